"""End to end on the synthetic cities, CPU: train, test, resume, and the DDP update."""
import json
import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tsjt_basicts.config import Budget, experiment_config
from tsjt_basicts.launcher import launch_evaluation, launch_training
from tsjt_basicts.runner import take_gradients
from tsjt_basicts.tsb import build_combiner

TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)
TINY_BUDGET = Budget(num_epochs=2, target_batch=64, source_batch=12, eval_batch_size=512)


def tiny_config(root, method="TSJT", **overrides):
    return experiment_config(
        "synthetic", method=method, budget=TINY_BUDGET, backbone_config=TINY_GWN, prompt_dim=4,
        ckpt_root=str(root), **overrides,
    )


def read_metrics(runner) -> dict:
    with open(os.path.join(runner.ckpt_save_dir, "test_metrics.json")) as f:
        return json.load(f)


@pytest.mark.slow
def test_tsjt_trains_writes_protocol_metrics_and_resumes(tmp_path):
    runner = launch_training(tiny_config(tmp_path))
    result = read_metrics(runner)
    assert (result["method"], result["data_kind"], result["protocol"]) == ("TSJT", "synthetic", "strict")
    assert result["target"] == "synthetic-shenzhen" and result["interval_minutes"] == 10
    for key in ("step1", "step3", "step6", "avg"):
        assert all(math.isfinite(v) for v in result["metrics"][key].values())
    assert result["metrics"]["step6"]["minutes"] == 60
    assert 0.0 < result["metrics"]["avg"]["MAE"] < 30.0  # a trained model, not garbage (speeds ~30 +/- 11)
    checkpoints = sorted(f for f in os.listdir(runner.ckpt_save_dir) if f.endswith(".pt"))
    assert "NodePromptedModel_best_val_MAE.pt" in checkpoints and "NodePromptedModel_2.pt" in checkpoints

    resumed = launch_training(tiny_config(tmp_path))  # the same config: BasicTS resumes, nothing left to train
    assert resumed.start_epoch == 2
    assert read_metrics(resumed)["metrics"]["avg"] == pytest.approx(result["metrics"]["avg"])

    evaluated = launch_evaluation(tiny_config(tmp_path), os.path.join(runner.ckpt_save_dir, checkpoints[-1]))
    assert read_metrics(evaluated)["metrics"]["avg"] == pytest.approx(result["metrics"]["avg"])


@pytest.mark.slow
def test_target_only_sees_no_source_and_joint_sees_them(tmp_path):
    target_only = launch_training(tiny_config(tmp_path, method="TargetOnly"))
    assert target_only.train_data_loader.dataset.source_windows == []
    joint = launch_training(tiny_config(tmp_path, method="Joint"))
    assert len(joint.train_data_loader.dataset.source_windows) == 3
    assert read_metrics(joint)["method"] == "Joint"


def _two_pass_update(rank: int, world: int, init_file: str, out_dir: str) -> None:
    """One TSB step on this rank's shard of a fixed global batch (DDP all-reduces each pass)."""
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    generator = torch.Generator().manual_seed(1)
    x_t, y_t = torch.randn(8, 3, generator=generator), torch.randn(8, 1, generator=generator)
    x_s, y_s = torch.randn(16, 3, generator=generator), torch.randn(16, 1, generator=generator)
    shard = lambda x: x.chunk(world)[rank]  # noqa: E731
    params = list(model.parameters())
    torch.nn.functional.mse_loss(net(shard(x_t)), shard(y_t)).backward()
    g_t = take_gradients(params)
    torch.nn.functional.mse_loss(net(shard(x_s)), shard(y_s)).backward()
    g_s = take_gradients(params)
    combined, _ = build_combiner("tsb", model.named_parameters(), source_ratio=0.5)(g_t, g_s, params)
    torch.save([g.clone() for g in combined], os.path.join(out_dir, f"world{world}_rank{rank}.pt"))
    if world > 1:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_gives_the_single_process_update(tmp_path):
    _two_pass_update(0, 1, "", str(tmp_path))
    mp.spawn(_two_pass_update, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    single = torch.load(tmp_path / "world1_rank0.pt")
    for rank in (0, 1):
        for a, b in zip(single, torch.load(tmp_path / f"world2_rank{rank}.pt")):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
