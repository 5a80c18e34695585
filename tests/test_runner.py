"""End to end on the synthetic cities, CPU: train, test, resume, Eq. 10 in a real step, DDP."""
import copy
import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from basicts.metrics import masked_mae

from tsjt_basicts.config import Budget, Training, experiment_config
from tsjt_basicts.launcher import launch_evaluation, launch_training
from tsjt_basicts.metrics import MetricAccumulator
from tsjt_basicts.npm import DIAGNOSTIC_KEYS
from tsjt_basicts.results import evaluation_result_file
from tsjt_basicts.run_lock import LOCK_FILE, RunLocked, run_lock
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.runner import CombinationLog, TSJTRunner, TSJTSettings, forward_autocast, take_gradients
from tsjt_basicts.tsb import CombineStats, build_combiner

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)
TINY_BUDGET = Budget(steps=39, steps_per_epoch=13, target_batch=32, source_batch=12, eval_batch_size=512)


def tiny_config(root, method="TSJT-paper", **overrides):
    """A few dozen steps at a learning rate high enough for them to teach the model something."""
    settings = dict(budget=TINY_BUDGET, training=Training(lr=3e-3), backbone_config=TINY_GWN, prompt_dim=4)
    return experiment_config("synthetic", method=method, ckpt_root=str(root), **{**settings, **overrides})


def read_metrics(runner, filename: str = "test_metrics.json") -> dict:
    with open(os.path.join(runner.ckpt_save_dir, filename)) as f:
        return json.load(f)


def mean_forecast_mae(runner) -> float:
    """MAE of forecasting the target's training mean everywhere (what an untrained model matches)."""
    windows = runner.test_data_loader.dataset.target_windows
    accumulator = MetricAccumulator(horizon=6)
    batch = windows.batch(np.arange(len(windows)))
    accumulator.update(torch.full_like(batch.targets, windows.scaler.mean), batch.targets, batch.mask)
    return accumulator.report(windows.city.interval_minutes)["avg"]["MAE"]


@pytest.mark.slow
def test_tsjt_trains_writes_protocol_metrics_and_resumes(tmp_path):
    runner = launch_training(tiny_config(tmp_path))
    result = read_metrics(runner)
    assert (result["method"], result["data_kind"], result["protocol"]) == ("TSJT-paper", "synthetic", "strict")
    assert result["target"] == "synthetic-shenzhen" and result["interval_minutes"] == 10
    for key in ("step1", "step3", "step6", "avg"):
        assert all(math.isfinite(v) for v in result["metrics"][key].values())
    assert result["metrics"]["step6"]["minutes"] == 60
    by_day_type = result["metrics"]["by_day_type"]  # the synthetic cities have a start date
    assert sum(part["windows"] for part in by_day_type.values()) == result["test_windows"]
    assert result["metrics"]["avg"]["MAE"] < 0.7 * mean_forecast_mae(runner)  # it learned something
    assert result["prompt_graph_used"] and result["checkpoint"] == "NodePromptedModel_best_val_MAE.pt"
    assert result["resumed_from_epoch"] is None and not result["non_finite_metrics"]
    # after a short training the prompts differ between nodes and A_K's support is far from uniform
    diagnostics = result["diagnostics"]
    assert set(diagnostics) == set(DIAGNOSTIC_KEYS)
    assert diagnostics["npm_attention_entropy_ratio"] < 0.7 and diagnostics["adaptive_support_rowmax_x_n"] > 2
    assert -1 <= diagnostics["prompt_graph_offdiag_p5"] <= diagnostics["prompt_graph_offdiag_mean"] < 1
    assert [point[0] for point in result["train_curve"]] == [13, 26, 39]  # one point per epoch of 13 steps
    assert result["train_curve"][-1][1] < result["train_curve"][0][1]
    assert os.path.isfile(os.path.join(runner.ckpt_save_dir, "train_curve.png"))
    checkpoints = sorted(f for f in os.listdir(runner.ckpt_save_dir) if f.endswith(".pt"))
    assert "NodePromptedModel_best_val_MAE.pt" in checkpoints and "NodePromptedModel_3.pt" in checkpoints

    resumed = launch_training(tiny_config(tmp_path))  # the same config: BasicTS resumes, nothing left to train
    assert resumed.start_epoch == 3 and read_metrics(resumed)["resumed_from_epoch"] == 3  # the record says so
    assert read_metrics(resumed)["metrics"]["avg"] == pytest.approx(result["metrics"]["avg"])
    assert not os.path.exists(os.path.join(runner.ckpt_save_dir, LOCK_FILE))  # released after each run

    best = os.path.join(runner.ckpt_save_dir, "NodePromptedModel_best_val_MAE.pt")
    evaluated = launch_evaluation(tiny_config(tmp_path), best)
    assert evaluated.result_file == evaluation_result_file(best) != "test_metrics.json"
    standalone = read_metrics(evaluated, evaluated.result_file)
    assert standalone["metrics"]["avg"] == pytest.approx(result["metrics"]["avg"])
    assert standalone["checkpoint_path"] == os.path.abspath(best) and standalone["resumed_from_epoch"] is None
    assert read_metrics(evaluated) == read_metrics(resumed)  # the training result is left as it was


class CountingRunner(TSJTRunner):
    """Counts its optimizer steps and its steps' source passes."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.steps = self.source_passes = 0

    def _optimizer_step(self) -> None:
        self.steps += 1
        super()._optimizer_step()

    def _backward_sources(self) -> None:
        self.source_passes += 1
        super()._backward_sources()


@pytest.mark.slow
def test_a_budget_of_s_steps_trains_s_optimizer_steps(tmp_path):
    budget = Budget(steps=6, steps_per_epoch=3, target_batch=16, source_batch=12, eval_batch_size=512)
    runner = launch_training(tiny_config(tmp_path, budget=budget), runner_cls=CountingRunner)
    assert runner.steps == 6  # BasicTS 1.1.0 alone stops after 5


class Interrupted(Exception):
    """Stands for the process being killed at the start of an epoch."""


@pytest.mark.slow
def test_a_run_interrupted_in_epoch_2_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    budget = Budget(steps=9, steps_per_epoch=3, target_batch=16, source_batch=12, eval_batch_size=512)
    settings = dict(budget=budget, backbone_config={**TINY_GWN, "dropout": 0.3})  # dropout draws random numbers
    whole = read_metrics(launch_training(tiny_config(tmp_path / "whole", **settings)))
    start = TSJTRunner.on_epoch_start

    def killed_in_epoch_2(runner, epoch):
        if epoch == 2:
            raise Interrupted
        start(runner, epoch)

    monkeypatch.setattr(TSJTRunner, "on_epoch_start", killed_in_epoch_2)
    with pytest.raises(Interrupted):
        launch_training(tiny_config(tmp_path / "cut", **settings))
    monkeypatch.setattr(TSJTRunner, "on_epoch_start", start)
    resumed = read_metrics(launch_training(tiny_config(tmp_path / "cut", **settings)))
    assert resumed["resumed_from_epoch"] == 1
    assert np.allclose(resumed["train_curve"], whole["train_curve"])  # the same batches, sources and dropout
    assert resumed["metrics"]["avg"] == pytest.approx(whole["metrics"]["avg"])


def test_a_second_run_of_one_config_is_refused_naming_the_lock_and_pid(tmp_path):
    cfg = tiny_config(tmp_path)
    folder = os.path.join(cfg.ckpt_save_dir, cfg.md5)
    with run_lock(folder) as lock:
        with pytest.raises(RunLocked, match=rf"{lock} says process {os.getpid()} on .* is running this config"):
            launch_training(cfg)
        assert open(lock).read().split()[0] == str(os.getpid())
    assert not os.path.exists(lock) and os.listdir(folder) == []  # refused before any file of the run


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_FILE).write_text(f"{dead.stdout.strip()} {socket.gethostname()}\n")
    with run_lock(str(tmp_path)) as lock:
        assert open(lock).read().split()[0] == str(os.getpid())
    assert os.listdir(tmp_path) == []  # nothing left behind: neither the lock nor the stale one moved aside


def test_a_lock_of_another_host_or_being_written_counts_as_live(tmp_path):
    (tmp_path / LOCK_FILE).write_text("1 some-other-host\n")
    with pytest.raises(RunLocked, match="process 1 on some-other-host"):
        run_lock(str(tmp_path)).__enter__()
    (tmp_path / LOCK_FILE).write_text("")  # created, not yet written
    with pytest.raises(RunLocked, match="just starting"):
        run_lock(str(tmp_path)).__enter__()
    os.utime(tmp_path / LOCK_FILE, (1, 1))  # an empty lock from long ago is stale
    with run_lock(str(tmp_path)):
        pass


class Eq10SpyRunner(TSJTRunner):
    """Checks each real optimizer step against Eq. 10 computed by hand from independent gradients."""

    checked_steps = 0

    def _optimizer_step(self) -> None:
        theta = [p.detach().double().clone() for p in self.trainable]
        g_t = [p.grad.detach().double().clone() for p in self.trainable]  # BasicTS's target backward
        sources = list(self.source_batches)
        assert [b["graph"].key for b in sources] == ["synthetic-la", "synthetic-bay", "synthetic-chengdu"]
        replica = copy.deepcopy(self.bare_model)
        total = sum(b["inputs"].shape[0] for b in sources)
        source_loss = sum(
            masked_mae(replica(b["inputs"], b["graph"]), b["targets"], b["targets_mask"]) * b["inputs"].shape[0] / total
            for b in sources
        )
        g_s = [g.double() for g in torch.autograd.grad(source_loss, list(replica.parameters()))]
        super()._optimizer_step()
        lr, ratio = self.optimizer.param_groups[0]["lr"], self.combiner.source_ratio
        for before, t, s, p in zip(theta, g_t, g_s, self.trainable):
            dot = float((t * s).sum())
            parallel = dot / float((t * t).sum()) * t
            expected = -lr * t - lr * ratio * ((s - parallel) + (dot > 0) * parallel)  # Eq. 10, gamma2 = lr * ratio
            rounding = torch.finfo(torch.float32).eps * before.abs() + 1e-9  # of theta + step, stored in float32
            assert ((p.detach().double() - before - expected).abs() <= 1e-3 * expected.abs() + rounding).all()
        Eq10SpyRunner.checked_steps += 1


@pytest.mark.slow
def test_a_real_training_step_is_eq_10_with_sgd(tmp_path):
    cfg = experiment_config(
        "synthetic", budget=Budget(steps=2, steps_per_epoch=2, target_batch=256, source_batch=6, eval_batch_size=512),
        training=Training(optimizer="sgd", lr=0.05, source_ratio=0.5), backbone_config={**TINY_GWN, "dropout": 0.0},
        prompt_dim=4, ckpt_root=str(tmp_path),
    )
    launch_training(cfg, runner_cls=Eq10SpyRunner)
    assert Eq10SpyRunner.checked_steps >= 1


@pytest.mark.slow
def test_target_only_sees_no_source_and_joint_sees_them(tmp_path):
    target_only = launch_training(tiny_config(tmp_path, method="TargetOnly"))
    assert target_only.train_data_loader.dataset.source_windows == []
    nodes = target_only.train_data_loader.dataset.target.num_nodes  # one city: GWN's own node embeddings
    assert target_only.bare_model.backbone.source_embedding.shape == (nodes, 10)
    assert read_metrics(target_only)["backbone_config"]["num_nodes"] == nodes
    joint = launch_training(tiny_config(tmp_path, method="Joint"))
    assert len(joint.train_data_loader.dataset.source_windows) == 3
    assert read_metrics(joint)["method"] == "Joint"


@pytest.mark.slow
def test_at_source_ratio_0_no_source_pass_runs(tmp_path):
    zero = launch_training(tiny_config(tmp_path / "zero", training=Training(lr=3e-3, source_ratio=0.0)),
                           runner_cls=CountingRunner)
    assert zero.source_passes == 0 and zero.steps == TINY_BUDGET.steps
    assert len(zero.train_data_loader.dataset.source_windows) == 3  # the sources were there, unused
    assert math.isfinite(read_metrics(zero)["metrics"]["avg"]["MAE"])
    some = launch_training(tiny_config(tmp_path / "some", training=Training(lr=3e-3, source_ratio=0.5)),
                           runner_cls=CountingRunner)
    assert some.source_passes == some.steps == TINY_BUDGET.steps


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
        dist.barrier()  # no rank tears gloo down while another still talks to it (a rare SIGABRT at exit)
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_gives_the_single_process_update(tmp_path):
    _two_pass_update(0, 1, "", str(tmp_path))
    mp.spawn(_two_pass_update, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    single = torch.load(tmp_path / "world1_rank0.pt")
    for rank in (0, 1):
        for a, b in zip(single, torch.load(tmp_path / f"world2_rank{rank}.pt")):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_a_diverged_run_stops_with_one_user_error(tmp_path):
    from tsjt_basicts.runner import TrainingDiverged

    cfg = experiment_config("synthetic", method="TargetOnly", budget=TINY_BUDGET, backbone_config=TINY_GWN,
                            training=Training(lr=1e12, optimizer="sgd"), ckpt_root=str(tmp_path))
    with pytest.raises(TrainingDiverged, match=r"diverged by step \d+ .*lower Training.lr"):
        launch_training(cfg)


@pytest.mark.parametrize("training", [dict(clip_grad_norm=-1.0), dict(lr=float("inf")), dict(source_ratio=-1.0),
                                      dict(patience=0)])
def test_training_settings_that_would_train_wrongly_are_refused(training):
    from tsjt_basicts.errors import ConfigError

    with pytest.raises(ConfigError, match="must be a finite number"):
        Training(**training)


def test_a_bad_backbone_width_or_allocation_fails_before_any_folder(tmp_path):
    from tsjt_basicts.errors import ConfigError

    with pytest.raises(ConfigError, match="residual_channels must be >= 1"):
        experiment_config("synthetic", backbone_config={**TINY_GWN, "residual_channels": 0}, ckpt_root=str(tmp_path))
    with pytest.raises(ConfigError, match="source_allocation='greedy'"):
        tiny_config(tmp_path, source_allocation="greedy")
    assert not any(tmp_path.iterdir())


def test_the_combination_log_reads_the_device_every_k_steps_and_keeps_every_step():
    written: list[tuple[int, float, float]] = []
    log = CombinationLog(3, lambda step, dropped, cosine: written.append((step, dropped, cosine)))
    seen_after_step = []
    for step in range(1, 8):
        stats = CombineStats(torch.tensor(step / 10), torch.tensor(-step / 10))
        if log.add(step, stats):
            log.flush()
        seen_after_step.append(len(written))
    assert seen_after_step == [0, 0, 3, 3, 3, 6, 6]  # nothing read between the 3rd and 6th steps
    log.flush()  # the epoch's end
    assert [w[0] for w in written] == list(range(1, 8))
    assert written[6][1:] == pytest.approx((0.7, -0.7))


class LogSpyRunner(TSJTRunner):
    """Records at which global step each diagnostic step was written."""

    def log_combination(self, step: int, dropped: float, cosine: float) -> None:
        assert 0.0 <= dropped <= 1.0 and -1.0 <= cosine <= 1.0
        self.writes = getattr(self, "writes", []) + [(self.global_steps, step)]
        super().log_combination(step, dropped, cosine)


@pytest.mark.slow
def test_a_run_logs_the_tsb_diagnostics_every_k_steps_and_at_each_epoch_end(tmp_path):
    budget = Budget(steps=6, steps_per_epoch=3, target_batch=16, source_batch=6, eval_batch_size=512)
    cfg = tiny_config(tmp_path, budget=budget)
    cfg.tsjt.log_every = 2
    runner = launch_training(cfg, runner_cls=LogSpyRunner)
    # (global step when written, step): every 2nd step and at each epoch's end (BasicTS has counted on by then)
    assert runner.writes == [(2, 1), (2, 2), (4, 3), (4, 4), (6, 5), (6, 6)]


def test_autocast_and_log_every_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="autocast='fp16' is not known; use one of \\['bf16'\\]"):
        Training(autocast="fp16")
    with pytest.raises(ConfigError, match="log_every=0 must be a whole number >= 1"):
        TSJTSettings(log_every=0)
    with pytest.raises(ConfigError, match="autocast='bf16' needs a GPU run: give gpus='0'"):
        tiny_config(tmp_path, training=Training(autocast="bf16"))
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        forward_autocast("bf16", torch.device("cpu"))
    assert not any(tmp_path.iterdir())
    assert "autocast" not in Training().record(0.5)  # off: the config identity of earlier runs stays
    assert Training(autocast="bf16").record(0.5)["autocast"] == "bf16"


@needs_cuda
@pytest.mark.slow
def test_bf16_autocast_trains_on_the_gpu(tmp_path):
    runner = launch_training(tiny_config(tmp_path, training=Training(lr=3e-3, autocast="bf16"), gpus="0"))
    with runner.autocast():
        assert torch.nn.functional.linear(torch.ones(2, 3, device="cuda"), torch.ones(4, 3, device="cuda")).dtype \
            == torch.bfloat16
    result = read_metrics(runner)
    assert result["training"]["autocast"] == "bf16" and result["device"] == "cuda:0"
    assert result["metrics"]["avg"]["MAE"] < 0.7 * mean_forecast_mae(runner)  # bf16 forwards still learn
