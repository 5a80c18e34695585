"""Start TSJTRunner (or any runner) the way ``BasicTSLauncher`` starts ``BasicTSRunner``.

BasicTS 1.1.0's launcher hard-codes its runner class; this module repeats its few steps with the
runner class as an argument: save the config, pick the device, and hand the training function to
EasyTorch's ``dist_wrap``, which spawns one process per GPU (DDP) when several are given. A
training holds the lock of its run folder (:mod:`tsjt_basicts.run_lock`): a second run of the
same config at the same time is refused.
"""
from __future__ import annotations

import contextlib
import os
import traceback

import torch
from easytorch.device import set_device_type
from easytorch.launcher.dist_wrap import dist_wrap
from easytorch.utils import set_visible_devices

from tsjt_basicts.errors import ConfigError, UserError
from tsjt_basicts.results import evaluation_result_file
from tsjt_basicts.run_lock import run_lock
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
    except UserError as error:  # the user's mistake: one line, in the log too
        runner.logger.error(f"error: {error}")
        raise
    except BaseException:
        runner.logger.error(traceback.format_exc())
        raise
    return runner


def launch_training(cfg, runner_cls: type = TSJTRunner, node_rank: int = 0):
    """Train ``cfg`` with ``runner_cls`` on CPU, one GPU, or several GPUs (DDP); returns the runner
    in a single process, None after spawning several. The first node holds the run folder's lock."""
    held = run_lock(os.path.join(cfg.ckpt_save_dir, cfg.md5)) if node_rank == 0 else contextlib.nullcontext()
    with held:
        if node_rank == 0:
            cfg.save()
        return start_training(cfg, runner_cls, node_rank)


def start_training(cfg, runner_cls: type, node_rank: int):
    """Hand ``train_with_runner`` to EasyTorch's ``dist_wrap`` on the devices of ``cfg``."""
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


def check_checkpoint_fits(model: torch.nn.Module, ckpt_path: str) -> None:
    """:class:`ConfigError` unless ``ckpt_path`` is a checkpoint of a model shaped like ``model``."""
    hint = "evaluate it with the config that trained it (its run folder holds that config)"
    try:
        saved = torch.load(ckpt_path, map_location="cpu")["model_state_dict"]
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a file that is no checkpoint
        reason = (str(error).strip().splitlines() or [""])[0].split(". ")[0][:120]  # its first sentence
        raise ConfigError(
            f"--ckpt {ckpt_path} is not a BasicTS checkpoint ({type(error).__name__}: {reason})") from error
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    found = {name: tuple(tensor.shape) for name, tensor in saved.items()}
    if found != expected:
        differ = sorted(set(found) ^ set(expected)) or sorted(n for n in found if found[n] != expected[n])
        raise ConfigError(
            f"--ckpt {ckpt_path} holds another model than this config builds ({differ[0]} differs); {hint}")


def launch_evaluation(cfg, ckpt_path: str, runner_cls: type = TSJTRunner):
    """Evaluate ``ckpt_path`` on the target's test windows; writes
    ``test_metrics_<checkpoint stem>_<path digest>.json`` beside the training run's own
    ``test_metrics.json`` (which stays as it is); the runner's ``result_file`` names it."""
    check_checkpoint_fits(cfg.model(cfg.model_config), ckpt_path)  # before the runner makes any folder
    select_device(cfg)
    runner = runner_cls(cfg)
    runner.result_file = evaluation_result_file(ckpt_path)
    runner.init_logger(logger_name=f"TSJT-evaluation-{cfg.md5[:8]}", log_file_name="evaluation_log")
    runner.eval(ckpt_path)
    return runner
