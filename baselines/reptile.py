"""Reptile: first-order meta-learning on the source cities, then fine-tuning on the target.

Reptile (Nichol, Achiam & Schulman, "On First-Order Meta-Learning Algorithms", arXiv 1803.02999,
2018) repeats: sample a task, run ``k`` optimizer steps on it from the meta-parameters theta to
reach phi, then move ``theta <- theta + epsilon (phi - theta)``, epsilon linearly annealed to 0.

Adapted to cross-city few-shot forecasting as in the Reptile baselines of ST-GFSL (Lu et al.,
KDD 2022) and TPB (Liu et al., CIKM 2023): each source city is one meta-training task, its batches
are windows of its whole series (z-scored with its own scaler); the meta-learned backbone is then
fine-tuned on the target's few-shot training windows and scored on its test windows. Split,
windows, normalisation, metrics and result file are the shared protocol's
(:func:`split_target`, :func:`city_windows`, :func:`as_basicts_batch`, :class:`MetricAccumulator`,
:func:`result_record`), so the record sits beside TSJT's and the other baselines'.

Deviations from the paper:
    * One task (city) per meta-iteration (the serial version); no meta-batch of tasks.
    * The inner Adam is rebuilt for every task with beta1 = 0, as the paper does for few-shot
      classification (``inner_optimizer="sgd"`` gives plain SGD).
    * The update also interpolates floating-point buffers (batch-norm statistics); integer
      buffers take the adapted values.
    * Fine-tuning runs ``finetune_steps`` Adam steps; the step is picked on the validation days
      (:class:`~baselines.common.BestOnValidation`), the rule every method of the suite shares.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from baselines.checks import FineTuneSettings, AT_LEAST_1, POSITIVE, check_backbone
from baselines.checks import one_of, setting
from baselines.registry import ANY_BACKBONE, register_baseline
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import BestOnValidation, TransferData, finetune_batches, meta_learn_and_test, score_windows
from baselines.common import trained_run
from baselines.records import ResultFile
from baselines.progress import bar
from tsjt_basicts.data.city import City
from tsjt_basicts.npm import NPMConfig, wrap_with_npm
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.engine.dataset import as_basicts_batch
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss

METHOD = "Reptile"
State = dict[str, torch.Tensor]


@dataclass
class ReptileConfig(FineTuneSettings):
    """Settings of a Reptile run (defaults: one CPU/GPU-sized run of the paper task); checked when made."""

    backbone: str = setting("GWN", "registered backbone (GWN, STGCN, DCRNN, ...)")
    backbone_config: dict = field(default_factory=dict, metadata={"help": "backbone config fields (others: defaults)"})
    meta_iterations: int = setting(2000, "meta-iterations, one source city each", AT_LEAST_1)
    inner_steps: int = setting(5, "optimizer steps k on the sampled city per iteration", AT_LEAST_1)
    inner_lr: float = setting(1e-3, "learning rate of the inner optimizer", POSITIVE)
    inner_optimizer: str = setting("adam", "'adam' (beta1 = 0, as the paper) or 'sgd'", one_of("adam", "sgd"))
    meta_step_size: float = setting(1.0, "outer step size epsilon", POSITIVE)
    anneal: bool = setting(True, "anneal epsilon linearly to 0 over the iterations")
    finetune_lr: float = setting(1e-3, "Adam learning rate of fine-tuning", POSITIVE)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_backbone(type(self).__name__, self.backbone, self.backbone_config)

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (meta-training on the sources, target fine-tuning)."""
        source_steps = self.meta_iterations * self.inner_steps
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": source_steps, "source_samples": source_steps * self.batch_size}


def reptile_update(theta: State, phi: State, epsilon: float) -> State:
    """``theta + epsilon (phi - theta)`` for floating entries; integer buffers take phi's."""
    return {k: v + epsilon * (phi[k] - v) if v.is_floating_point() else phi[k].clone() for k, v in theta.items()}


def step_size(config: ReptileConfig, iteration: int) -> float:
    """Outer step size of ``iteration`` (0-based): linearly annealed from epsilon towards 0."""
    return config.meta_step_size * (1 - iteration / config.meta_iterations if config.anneal else 1.0)


def train_step(
    model: nn.Module, windows: CityWindows, positions: np.ndarray, optimizer: torch.optim.Optimizer
) -> torch.Tensor:
    """One masked-MAE step on windows ``positions`` of one city (targets z-scored by its scaler)."""
    item = as_basicts_batch(windows.batch(positions), windows, windows.graph)
    loss = masked_mae_loss(model(item["inputs"], item["graph"]), item["targets"], item["targets_mask"])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def inner_optimizer(model: nn.Module, config: ReptileConfig) -> torch.optim.Optimizer:
    if config.inner_optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.inner_lr)
    return torch.optim.Adam(model.parameters(), lr=config.inner_lr, betas=(0.0, 0.999))


def meta_train(model: nn.Module, sources: list[CityWindows], config: ReptileConfig, rng: np.random.Generator) -> None:
    """Reptile over the source cities; leaves the meta-parameters theta in ``model``."""
    theta = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    for iteration in bar(range(config.meta_iterations), config.meta_iterations, f"{METHOD} meta-training"):
        windows = sources[rng.integers(len(sources))]
        model.load_state_dict(theta)
        optimizer = inner_optimizer(model, config)
        for _ in range(config.inner_steps):
            positions = rng.choice(len(windows), min(config.batch_size, len(windows)), replace=False)
            train_step(model, windows, positions, optimizer)
        theta = reptile_update(theta, model.state_dict(), step_size(config, iteration))
    model.load_state_dict(theta)


def finetune(model: nn.Module, windows: CityWindows, config: ReptileConfig, rng: np.random.Generator,
             selector: BestOnValidation) -> CurveLog:
    """``finetune_steps`` Adam steps of ``batch_size`` shuffled few-shot windows; returns the loss curve."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.finetune_lr)
    model.train()
    curve = CurveLog(config.finetune_steps)
    batches = finetune_batches(np.arange(len(windows)), config.finetune_steps, config.batch_size, rng)
    for step, positions in enumerate(bar(batches, config.finetune_steps, f"{METHOD} fine-tuning"), 1):
        curve.add(train_step(model, windows, positions, optimizer))
        selector.check(step)
    return curve


def evaluate(model: nn.Module, windows: CityWindows) -> MetricAccumulator:
    """Metrics of every window in the city's units."""
    model.eval()
    graph = windows.graph
    return score_windows(windows, lambda batch, _: model(batch.inputs, graph))


PRESETS = {"paper": {}, "cpu": {"meta_iterations": 200}, "smoke": {"meta_iterations": 3, "inner_steps": 2}}


def run_reptile(method: str, task: TaskRef, seed: int, protocol: str, out_root: str, data_root: str | None,
                config: ReptileConfig, device: str, npm_for: Callable[[City], NPMConfig] | None = None) -> dict:
    """Reptile's phases on the backbone of ``config``, wrapped by TSJT's NPM when ``npm_for`` gives the
    NPM settings for the target city (:mod:`baselines.npm_reptile`, the paper's "w/o TSB")."""

    def train_and_test(result: ResultFile, data: TransferData, rng: np.random.Generator) -> dict:
        npm = None if npm_for is None else npm_for(data.target_train.city)
        model = wrap_with_npm(config.backbone, npm, npm is not None, **config.backbone_config).to(device)
        return meta_learn_and_test(result, config, data, model, rng, meta_train, finetune, evaluate)

    return trained_run(method, task, seed, protocol, out_root, data_root, config, device, train_and_test,
                       config.backbone)


@register_baseline(METHOD, ReptileConfig, backbones=ANY_BACKBONE, presets=PRESETS)
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: ReptileConfig | None = None,
    device: str = "cpu",
) -> dict:
    """Reptile on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/Reptile_<backbone>/<task>/...``)."""
    return run_reptile(METHOD, task, seed, protocol, out_root, data_root, config or ReptileConfig(), device)


def main(argv: list[str] | None = None) -> int:
    cli = parser(METHOD, trained=True)
    cli.add_argument("--backbone", default="GWN", help="registered backbone name")
    return trained_main(cli, argv, run, lambda args: ReptileConfig(backbone=args.backbone, **protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
