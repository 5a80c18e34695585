"""TSJTRunner: BasicTS's runner with the two-pass Target-Skewed Backward step.

BasicTS's own loop runs the target sub-batch (forward, loss, backward) and then calls
``_optimizer_step``; that single method is overridden to stash g_T, run forward + backward on
every source city's sub-batch (accumulating g_S of the source loss L_S, the mean over all source
samples), combine them with TSB (Eqs. 8-10) and take one optimizer step. Validation, test,
checkpoints, TensorBoard, early stopping, resume and DDP stay BasicTS's.
At source ratio 0 (TargetOnly, a ratio grid's 0) the update is g_T alone, so no source pass runs.

Source passes run with BatchNorm running statistics frozen, so the statistics used at test
time stay the target's. Under DDP every backward is all-reduced by DDP itself (BasicTS's
``no_sync`` wraps only the target backward, after the forward has armed DDP's reducer), so both
g_T and g_S are global means before they are combined and every rank computes the same update.
Under AMP both passes are scaled by the same GradScaler factor; TSB is homogeneous of degree one
(tested), so the scaler's unscale-then-step after the combination is exact. DDP and AMP were not
run on a GPU here.

On a GPU the step never waits on the host: the TSB diagnostics stay device tensors and are read,
with the finite-parameter check, every ``log_every`` steps and at each epoch's end
(:class:`CombinationLog`); the source sub-batches, pinned by the loader, are copied to the device
(non-blocking) as the step starts, so the copies overlap the target pass, and the cities' passes
follow one another without a sync (one forward/backward per city: their node counts differ;
no CUDA streams, as concurrent backwards would race on the shared ``.grad``). ``autocast="bf16"``
runs the training forwards under CUDA bfloat16 autocast (losses, gradients, TSB and validation
stay float32); CPU bfloat16 autocast fails in torch's sparse CSR kernels, so it is refused there.
"""
from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
from basicts.runners import BasicTSRunner
from basicts.utils import RunnerStatus
from easytorch.utils import is_master
from torch import nn

from tsjt_basicts.curves import CURVE_PNG, plot_curve
from tsjt_basicts.metrics import MetricAccumulator
from tsjt_basicts.npm import DiagnosticsAccumulator
from tsjt_basicts.errors import ConfigError, UserError
from tsjt_basicts.results import RESULT_FILE, result_record, write_result
from tsjt_basicts.tsb import GAMMA1, GAMMA2, CombineStats, Granularity, build_combiner


@dataclass
class TSJTSettings:
    """What the runner reads from ``cfg.tsjt``."""

    combiner: str = field(default="tsb", metadata={"help": "'tsb' (Eqs. 8-10) or 'sum' (plain joint training)"})
    source_ratio: float = field(default=GAMMA2 / GAMMA1, metadata={"help": "gamma2 / gamma1 of Eq. 10"})
    granularity: Granularity = field(default="tensor", metadata={"help": "TSB per 'tensor', 'module' or 'model'"})
    clip_grad_norm: float | None = field(default=None, metadata={"help": "max norm of the combined gradient"})
    meta: dict = field(default_factory=dict, metadata={"help": "written beside the test metrics"})
    log_every: int = field(default=50, metadata={"help": "steps between host reads of the TSB diagnostics"})
    autocast: str | None = field(default=None, metadata={"help": "'bf16': training forwards under CUDA autocast"})

    def __post_init__(self) -> None:
        if not isinstance(self.log_every, int) or isinstance(self.log_every, bool) or self.log_every < 1:
            raise ConfigError(f"TSJTSettings.log_every={self.log_every!r} must be a whole number >= 1")
        check_autocast(self.autocast)


AUTOCAST_DTYPES = {"bf16": torch.bfloat16}


def check_autocast(name: str | None) -> None:
    """Refuse an unknown autocast name with the known ones."""
    if name is not None and name not in AUTOCAST_DTYPES:
        raise ConfigError(f"autocast={name!r} is not known; use one of {sorted(AUTOCAST_DTYPES)} or None (off)")


def forward_autocast(name: str | None, device: torch.device) -> Callable[[], AbstractContextManager]:
    """A factory of the training forwards' autocast context (``nullcontext`` when off); CUDA only."""
    check_autocast(name)
    if name is None:
        return nullcontext
    if device.type != "cuda":
        raise ConfigError(f"autocast={name!r} needs a CUDA device (this run is on {device.type}): run with "
                          "gpus='0', or leave autocast off (torch's CPU sparse kernels have no bfloat16)")
    return lambda: torch.autocast("cuda", dtype=AUTOCAST_DTYPES[name])


@contextmanager
def frozen_norm_statistics(model: nn.Module) -> Iterator[None]:
    """Source passes leave BatchNorm running statistics alone: the model is evaluated on the target."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.momentum = 0.0  # batch statistics still normalise; the running ones stay the target's
    try:
        yield
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum


class TrainingDiverged(UserError):
    """The parameters left the finite numbers: the settings, not the code, need changing."""


def take_gradients(params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """Hand over the accumulated ``.grad`` of each parameter and clear it (no copy)."""
    grads = [p.grad for p in params]
    for p in params:
        p.grad = None
    return grads


def copy_to_device(batches: list[dict[str, Any]], device: torch.device) -> list[dict[str, Any]]:
    """Start the host-to-device copies of ``batches`` without waiting for them (non-blocking: a GPU
    run's loader pins its batches in its own thread); CPU batches are returned as they are."""
    if device.type != "cuda":
        return batches
    return [{key: value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
             for key, value in batch.items()} for batch in batches]


class CombinationLog:
    """TSB diagnostics kept on the device, step by step, and handed to ``write(step, dropped, cosine)``
    in one host read (one sync) when :meth:`flush` is called."""

    def __init__(self, every: int, write: Callable[[int, float, float], None]):
        self.every = every
        self.write = write
        self._steps: list[int] = []
        self._stats: list[torch.Tensor] = []

    def add(self, step: int, stats: CombineStats | None) -> bool:
        """Keep ``step``'s statistics (None: no combination that step); True on every ``every``-th
        step (time to flush)."""
        if stats is not None:
            self._steps.append(step)
            self._stats.append(stats.as_tensor())
        return step % self.every == 0

    def flush(self) -> None:
        """Write every kept step, oldest first, and forget them."""
        if not self._steps:
            return
        values = torch.stack(self._stats).tolist()  # the one host sync of the last ``every`` steps
        for step, (dropped, cosine) in zip(self._steps, values):
            self.write(step, dropped, cosine)
        self._steps, self._stats = [], []


CURVE_LOG = "train_curve.jsonl"


class TSJTRunner(BasicTSRunner):
    """A BasicTSRunner whose optimizer step combines target and source gradients (``cfg.tsjt``:
    a :class:`TSJTSettings`)."""

    def __init__(self, cfg):
        super().__init__(cfg)
        settings: TSJTSettings = cfg.tsjt
        self.bare_model = self.model.module if hasattr(self.model, "module") else self.model
        named = [(n, p) for n, p in self.bare_model.named_parameters() if p.requires_grad]
        self.trainable = [p for _, p in named]
        self.combiner = build_combiner(settings.combiner, named, settings.source_ratio, settings.granularity)
        self.clip_grad_norm = settings.clip_grad_norm
        self.meta = settings.meta
        self.source_batches: list[dict[str, Any]] = []
        self.test_metrics: MetricAccumulator | None = None
        self.result_file = RESULT_FILE
        self.evaluated_checkpoint = self.evaluated_checkpoint_path = ""
        self.resumed_from_epoch: int | None = None
        self.device = next(self.bare_model.parameters()).device
        self.autocast = forward_autocast(settings.autocast, self.device)
        self.combination_log = CombinationLog(settings.log_every, self.log_combination)

    @property
    def should_training_stop(self) -> bool:
        return getattr(self, "_stop_training", False)

    @should_training_stop.setter
    def should_training_stop(self, stop: bool) -> None:
        """BasicTS 1.1.0 stops once its step counter *reaches* ``num_steps``, before that last step runs
        (``num_steps - 1`` optimizer steps); a stop at that moment waits one step, so a budget of S steps
        trains S. Early stopping (asked while validating) and the end after the last step are kept."""
        one_step_early = (getattr(self, "status", None) == RunnerStatus.TRAINING
                          and getattr(self, "global_steps", None) == getattr(self, "num_steps", -1))
        self._stop_training = bool(stop) and not one_step_early

    def _init_train(self) -> None:
        super()._init_train()
        if self.combiner.source_ratio > 0:  # TSB diagnostics exist only where the sources count
            self.register_meter("train/dropped_parallel", "train", "{:.3f}")
            self.register_meter("train/grad_cosine", "train", "{:.3f}")

    def _load_model_resume(self, strict: bool = True) -> None:
        """BasicTS's resume from the run folder's last checkpoint; remembers the epoch it resumed from."""
        super()._load_model_resume(strict)
        self.resumed_from_epoch = self.start_epoch or None

    def on_epoch_start(self, epoch: int) -> None:
        """Seed the epoch's step order and dropout from ``(seed, epoch)``, so that a resumed run
        trains as the uninterrupted one would (BasicTS keeps no random state in its checkpoints)."""
        torch.manual_seed(int(np.random.SeedSequence([self.cfg.seed, epoch]).generate_state(1)[0]))
        super().on_epoch_start(epoch)
        self.train_data_loader.dataset.set_epoch(epoch)

    def on_epoch_end(self, epoch: int, step: int) -> None:
        """Log the epoch's training loss to ``train_curve.jsonl`` (kept across resumes) and TensorBoard
        ``npm/*``: the NPM diagnostics on the validation windows (target data only)."""
        self.read_step_checks()
        if is_master():
            point = {"epoch": epoch, "step": epoch * len(self.train_data_loader),
                     "loss": float(self.meter_pool.get_value("train/loss"))}
            with open(os.path.join(self.ckpt_save_dir, CURVE_LOG), "a") as f:
                f.write(json.dumps(point) + "\n")
        if is_master() and self.val_data_loader is not None:
            diagnostics = self.npm_diagnostics(self.val_data_loader)
            for key, value in (diagnostics or {}).items():
                if value is not None:
                    self.tensorboard_writer.add_scalar(f"npm/{key}", value, epoch)
        super().on_epoch_end(epoch, step)

    @torch.no_grad()
    def npm_diagnostics(self, loader) -> dict[str, float | None] | None:
        """How much the prompts and A_K differ between nodes on ``loader``'s windows (None without an NPM)."""
        if self.bare_model.encoder is None:
            return None
        was_training = self.bare_model.training
        self.bare_model.eval()
        accumulator = DiagnosticsAccumulator()
        for batch in loader:
            inputs = self.to_running_device(batch["inputs"])
            accumulator.update(self.bare_model.prompt_internals(inputs, batch["graph"]))
        self.bare_model.train(was_training)
        return accumulator.report()

    def _forward(self, model, data: dict, step: int, epoch: int | None = None) -> dict:
        """BasicTS's forward; a training step's source sub-batches start for the device here, and the
        training forwards run under the configured autocast (the prediction comes back float32)."""
        if self.status != RunnerStatus.TRAINING:
            return super()._forward(model, data, step, epoch)
        if "sources" in data:
            self.source_batches = copy_to_device(data.pop("sources"), self.device)
        try:
            with self.autocast():
                forward_return = super()._forward(model, data, step, epoch)
        except ValueError:  # an input check tripping over NaN weights: name the divergence instead
            self.check_finite_parameters()
            raise
        forward_return["prediction"] = forward_return["prediction"].float()
        return forward_return

    def _backward_sources(self) -> None:
        """Accumulate g_S of L_S = the mean loss over all source samples of this step."""
        total = sum(batch["inputs"].shape[0] for batch in self.source_batches)
        with frozen_norm_statistics(self.bare_model):
            for batch in self.source_batches:
                with self.amp_ctx:
                    forward_return = self._forward(self.model, batch, self.global_steps, self.epoch)
                    loss = self._metric_forward(self.loss, forward_return) * (batch["inputs"].shape[0] / total)
                self.amp_scaler.scale(loss).backward()

    def _optimizer_step(self) -> None:
        """At source ratio 0 the update is g_T alone (Eq. 10), so the source passes are skipped."""
        stats = self._combine_source_gradients() if self.combiner.source_ratio > 0 else None
        if self.clip_grad_norm is not None:
            self.amp_scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.trainable, self.clip_grad_norm)
        self.source_batches = []
        super()._optimizer_step()
        if self.combination_log.add(self.global_steps, stats):
            self.read_step_checks()

    def _combine_source_gradients(self) -> CombineStats:
        """Stash g_T, accumulate g_S over the source passes, write their combination back as ``.grad``."""
        target_grads = take_gradients(self.trainable)
        self._backward_sources()
        source_grads = take_gradients(self.trainable)
        combined, stats = self.combiner(target_grads, source_grads, self.trainable)
        for param, grad in zip(self.trainable, combined):
            param.grad = grad
        return stats

    def read_step_checks(self) -> None:
        """The host reads of the steps since the last: TSB diagnostics, then the finite-parameter check."""
        self.combination_log.flush()
        self.check_finite_parameters()

    def check_finite_parameters(self) -> None:
        """Stop a diverged run with one line (one device sync, not one per tensor). Non-finite
        parameters stay non-finite, so reading this every ``log_every`` steps misses no divergence."""
        if not torch.stack([param.isfinite().all() for param in self.trainable]).all():
            raise TrainingDiverged(
                f"training diverged by step {self.global_steps} (parameters hold NaN/inf); lower Training.lr "
                "or set Training.clip_grad_norm, then start a new run"
            )

    def log_combination(self, step: int, dropped: float, cosine: float) -> None:
        """One step's TensorBoard scalars (``tsb/*``) and its share of the epoch means (``train/*``)."""
        self.update_meter("train/dropped_parallel", dropped)
        self.update_meter("train/grad_cosine", cosine)
        if is_master():
            self.tensorboard_writer.add_scalar("tsb/dropped_parallel", dropped, step)
            self.tensorboard_writer.add_scalar("tsb/grad_cosine", cosine, step)

    def on_eval_start(self, ckpt_path: str | None) -> None:
        super().on_eval_start(ckpt_path)
        ckpt_path = ckpt_path or os.path.join(self.ckpt_save_dir, f"{self.model_name}_best_val_{self.target_metric}.pt")
        self.evaluated_checkpoint = os.path.basename(ckpt_path)
        self.evaluated_checkpoint_path = os.path.abspath(ckpt_path)
        self.test_metrics = MetricAccumulator(self.cfg.output_len)

    def _save_results(self, batch_idx: int, batch_data: dict[str, Any]) -> None:
        """Score every test batch by the shared protocol (in the city's units) instead of dumping it; the
        loader yields the test windows in order, ``eval_batch_size`` at a time, so ``batch_idx`` locates them."""
        dataset = self.test_data_loader.dataset
        first = batch_idx * dataset.eval_batch_size
        positions = np.arange(first, first + batch_data["prediction"].shape[0])
        if positions[-1] >= len(dataset.target_windows):
            raise RuntimeError(f"test batch {batch_idx} lies beyond the {len(dataset.target_windows)} test windows: "
                               "the test loader must yield the dataset's batches in order")
        self.test_metrics.update(batch_data["prediction"], batch_data["targets"], batch_data["targets_mask"],
                                 dataset.target_windows.day_types(positions))

    def train_curve(self) -> list[list[float]]:
        """``[[step, mean training loss of the epoch ending there], ...]`` from ``train_curve.jsonl``."""
        path = os.path.join(self.ckpt_save_dir, CURVE_LOG)
        if not os.path.isfile(path):
            return []
        with open(path) as f:
            points = {p["epoch"]: [p["step"], p["loss"]] for p in map(json.loads, f.read().splitlines())}
        return [points[epoch] for epoch in sorted(points)]

    def _save_metrics(self) -> None:
        """``test_metrics.json``: protocol metrics of the target city plus what produced them, and the
        training curve (also drawn as ``train_curve.png``)."""
        dataset = self.test_data_loader.dataset
        meta = {**self.meta, "checkpoint": self.evaluated_checkpoint, "checkpoint_path": self.evaluated_checkpoint_path,
                "resumed_from_epoch": self.resumed_from_epoch, "train_curve": self.train_curve(),
                "selection": {"val_MAE": getattr(self, "best_metrics", {}).get(f"val/{self.target_metric}")}}
        if meta["train_curve"]:
            m = self.meta
            title = f"{m.get('method')} ({m.get('backbone')}) on {m.get('task')}, seed {m.get('seed')}"
            plot_curve(meta["train_curve"], os.path.join(self.ckpt_save_dir, CURVE_PNG), title)
        diagnostics = self.npm_diagnostics(self.test_data_loader)
        if diagnostics is not None:
            meta["diagnostics"] = diagnostics
        device = str(next(self.model.parameters()).device)
        record = result_record(meta, dataset.target_windows, dataset.protocol.name, self.test_metrics, device)
        path = write_result(self.ckpt_save_dir, record, self.result_file)
        self.logger.info(f"Test metrics ({record['protocol']} protocol, {record['data_kind']} data) saved to {path}.")
        if record["non_finite_metrics"]:
            self.logger.error(f"{', '.join(record['non_finite_metrics'])} not finite: the model diverged ({path}).")
