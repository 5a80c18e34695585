"""Start TSJTRunner (or any runner) the way ``BasicTSLauncher`` starts ``BasicTSRunner``.

BasicTS 1.1.0's launcher hard-codes its runner class; this module repeats its few steps with the
runner class as an argument: save the config, pick the device, and hand the training function to
EasyTorch's ``dist_wrap``, which spawns one process per GPU (DDP) when several are given.
"""
from __future__ import annotations

import traceback
from pathlib import Path

from easytorch.device import set_device_type
from easytorch.launcher.dist_wrap import dist_wrap
from easytorch.utils import set_visible_devices

from tsjt_basicts.runner import TSJTRunner


def select_device(cfg) -> int:
    """Set EasyTorch's device type from ``cfg.gpus``; return the number of devices (0 = CPU)."""
    if cfg.get("gpus", None) is None:
        set_device_type("cpu")
        return 0
    set_device_type("gpu")
    set_visible_devices(cfg.gpus)
    return cfg.gpu_num


def train_with_runner(cfg, runner_cls: type = TSJTRunner):
    """Build the runner and train it (module level so that ``torch.multiprocessing`` can spawn it)."""
    runner = runner_cls(cfg)
    runner.init_logger(logger_name=f"TSJT-training-{cfg.md5[:8]}", log_file_name="training_log")
    try:
        runner.train()
    except BaseException:
        runner.logger.error(traceback.format_exc())
        raise
    return runner


def launch_training(cfg, runner_cls: type = TSJTRunner, node_rank: int = 0):
    """Train ``cfg`` with ``runner_cls`` on CPU, one GPU, or several GPUs (DDP); returns the runner
    in a single process, None after spawning several."""
    if node_rank == 0:
        cfg.save()
    device_num = select_device(cfg)
    train = dist_wrap(
        train_with_runner,
        node_num=cfg.get("dist_node_num", 1),
        device_num=device_num,
        node_rank=node_rank,
        dist_backend=cfg.get("dist_backend", None),
        init_method=cfg.get("dist_init_method", None),
    )
    return train(cfg, runner_cls)


def launch_evaluation(cfg, ckpt_path: str, runner_cls: type = TSJTRunner):
    """Evaluate ``ckpt_path`` on the target's test windows; writes ``test_metrics_<checkpoint>.json``
    beside the training run's own ``test_metrics.json`` (which stays as it is)."""
    select_device(cfg)
    runner = runner_cls(cfg)
    runner.result_file = f"test_metrics_{Path(ckpt_path).stem}.json"
    runner.init_logger(logger_name=f"TSJT-evaluation-{cfg.md5[:8]}", log_file_name="evaluation_log")
    runner.eval(ckpt_path)
    return runner
