"""What the baselines share: the shared protocol's data, scoring, model selection and result files.

Everything goes through the project's own protocol objects (:func:`split_target`,
:func:`city_windows`, :class:`MetricAccumulator`, :func:`result_record`), so a baseline's
``test_metrics.json`` is scored on exactly the windows, mask and units of the gradient methods.
Where it lands covers every setting of the run (:func:`baseline_result_path`), and a result made
with other settings or data is never overwritten (:mod:`baselines.records`).
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from baselines.checks import NON_NEGATIVE, POSITIVE, check_device, check_settings, is_int, setting
from baselines.progress import phase
from baselines.records import ResultFile, data_digest, result_location
from tsjt_basicts.curves import CURVE_PNG, CurveLog, plot_curve
from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.split import Protocol, StepRange, split_source, split_target
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.tasks import TASKS, load_task, resolve_task, task_label
from tsjt_basicts.data.windows import Batch, CityWindows, city_windows
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.metrics import MetricAccumulator
from tsjt_basicts.results import result_record

logger = logging.getLogger(__name__)

Forecast = Callable[[np.ndarray], np.ndarray]
"""Window start steps ``[B]`` -> forecasts ``[B, output_len, N]`` in the city's units."""
Fit = Callable[[City, StepRange, Protocol], Forecast]
"""Fits a baseline on the target's few-shot training steps."""


@dataclass(frozen=True)
class StatisticalConfig:
    """Settings of HA and ARIMA (fitted on the target alone, deterministic); ``config=None`` means these defaults."""

    target_days: float = setting(3.0, "few-shot days of the target city", POSITIVE)
    data_seed: int = setting(0, "seed of the synthetic cities", NON_NEGATIVE)

    def __post_init__(self) -> None:
        check_settings(self)


def task_identity(task: TaskRef) -> Any:
    """A registered task by its name, a user's task by its whole spec (name, cities, data root)."""
    resolved = resolve_task(task)
    return resolved.name if resolved.name in TASKS else {**asdict(resolved), "sources": list(resolved.sources)}


def run_settings(method: str, backbone: str, task: TaskRef, seed: int, config, protocol: str = "strict") -> dict:
    """Every setting that decides a baseline run's result (its data aside); ``config=None``: HA / ARIMA defaults."""
    if not is_int(seed) or seed < 0:
        raise ConfigError(f"{method}: seed must be an integer >= 0, got {seed!r}")
    return {"method": method, "backbone": backbone, "task": task_identity(task), "seed": seed, "protocol": protocol,
            "config": asdict(config if config is not None else StatisticalConfig())}


def baseline_result_path(method: str, backbone: str, task: TaskRef, seed: int, out_root: str, config,
                         protocol: str = "strict") -> Path:
    """Where a baseline run's ``test_metrics.json`` lands: its run folder, then the digest of its settings.

    ``<out_root>/<method>[_<backbone>]/<task>/<protocol>_seed<k>/<digest>/test_metrics.json``; ``backbone``
    is "-" for HA / ARIMA, whose ``config`` is None (their defaults) or a :class:`StatisticalConfig`.
    """
    return result_location(out_root, task_label(task), run_settings(method, backbone, task, seed, config, protocol))


def claim_result(method: str, backbone: str, task: TaskRef, seed: int, out_root: str, config, protocol: str,
                 digest_of_data: str) -> ResultFile:
    """The run's result file, refused at once when a result of other settings or data is there."""
    settings = run_settings(method, backbone, task, seed, config, protocol)
    name = task_label(task)
    result = ResultFile(result_location(out_root, name, settings), name, settings, digest_of_data)
    result.check_free()
    return result


def finetune_batches(positions: np.ndarray, steps: int, batch_size: int, rng: np.random.Generator):
    """``steps`` batches of ``positions``: consecutive chunks of a stream of fresh permutations, so a
    fine-tuning budget counts optimizer steps (as the gradient methods' budgets do) and every
    window is seen equally often."""
    stream = np.empty(0, dtype=np.asarray(positions).dtype)
    for _ in range(steps):
        while len(stream) < batch_size:
            stream = np.concatenate([stream, rng.permutation(positions)])
        chunk, stream = stream[:batch_size], stream[batch_size:]
        yield chunk


def input_steps(starts: np.ndarray, protocol: Protocol) -> np.ndarray:
    """``[B, input_len]`` steps of the windows' inputs."""
    return starts[:, None] + np.arange(protocol.input_len)


def output_steps(starts: np.ndarray, protocol: Protocol) -> np.ndarray:
    """``[B, output_len]`` steps the windows forecast."""
    return starts[:, None] + protocol.input_len + np.arange(protocol.output_len)


def evaluate(target: City, fit: Fit, meta: dict, protocol: Protocol, batch_size: int = 256) -> dict:
    """Fit on the few-shot training range, score every test window; the result record (not written)."""
    method = meta["method"]
    split = split_target(target, protocol)
    windows = city_windows(target, split, "test", protocol)
    with phase(logger, method, "fitting", f"on the {len(split.train)} few-shot steps of {target.name}"):
        forecast = fit(target, split.train, protocol)
    metrics = MetricAccumulator(protocol.output_len)
    with phase(logger, method, "testing", f"on {len(windows)} test windows"):
        for first in range(0, len(windows), batch_size):
            positions = np.arange(first, min(first + batch_size, len(windows)))
            batch = windows.batch(positions)
            prediction = torch.from_numpy(forecast(windows.starts[positions]).astype(np.float32))
            metrics.update(prediction, batch.targets, batch.mask, windows.day_types(positions))
    return result_record(meta, windows, protocol.name, metrics, device="cpu")


def run_baseline(method: str, fit: Fit, task: TaskRef, seed: int, protocol: str, out_root: str, data_root: str | None,
                 config: StatisticalConfig) -> dict:
    """Evaluate ``fit`` on ``task`` and write its record at :func:`baseline_result_path` (no backbone).

    The baselines are deterministic: ``seed`` only labels the record (so it pairs with the
    gradient methods' seeds); ``config.data_seed`` generates the synthetic cities, as for those methods.
    """
    split_protocol = Protocol(name=protocol, target_days=config.target_days)
    with phase(logger, method, "loading", f"task {task_label(task)}"):
        target, sources = load_task(task, data_root=data_root, seed=config.data_seed, protocol=split_protocol)
    result = claim_result(method, "-", task, seed, out_root, config, protocol, data_digest(target, sources))
    with result.held():
        meta = {**result.meta(), "target_days": config.target_days, "data_seed": config.data_seed}
        record = evaluate(target, fit, meta, split_protocol)
        result.write(record)
    return record


@dataclass
class TransferData:
    """What a transfer baseline trains and is scored on, under the shared protocol."""

    protocol: Protocol
    target_train_steps: StepRange
    target_train: CityWindows
    target_val: CityWindows | None  # the last ``val_days`` of the few-shot days: model selection
    target_test: CityWindows
    sources: list[CityWindows]
    digest: str  # of the task's data (:func:`baselines.records.data_digest`)


def transfer_data(method: str, task: TaskRef, protocol: str, target_days: float, data_seed: int,
                  data_root: str | None, device: str = "cpu", val_days: float = 0.0) -> TransferData:
    """The task's few-shot target windows (training and validation part), test windows and source
    windows (sources are required), on ``device``."""
    split_protocol = Protocol(name=protocol, target_days=target_days, val_days=val_days)
    with phase(logger, method, "loading", f"task {task_label(task)}"):
        target, sources = load_task(task, data_root=data_root, seed=data_seed, protocol=split_protocol)
        if not sources:
            raise DataError(f"task {task_label(task)!r} has no source city; {method} needs sources to transfer from")
        split = split_target(target, split_protocol)
        data = TransferData(
            split_protocol,
            split.train,
            city_windows(target, split, "train", split_protocol).to(device),
            city_windows(target, split, "val", split_protocol).to(device) if split.val is not None else None,
            city_windows(target, split, "test", split_protocol).to(device),
            [city_windows(c, split_source(c), "train", split_protocol).to(device) for c in sources],
            data_digest(target, sources),
        )
    logger.info("%s: target %s (%d few-shot training windows), %d source cities (%s)", method, target.name,
                len(data.target_train), len(sources), ", ".join(c.name for c in sources))
    return data


def trained_run(method: str, task: TaskRef, seed: int, protocol: str, out_root: str, data_root: str | None, config,
                device: str, train_and_test: Callable[[ResultFile, TransferData, np.random.Generator], dict],
                backbone: str = "-", check: Callable[[TransferData], None] | None = None) -> dict:
    """The frame of every trained baseline's ``run``: check the device, load the task's windows,
    ``check`` them, claim the result file (refused at once when another run's is there), seed torch
    and numpy with ``seed``, then ``train_and_test(result, data, rng)`` writes the record."""
    check_device(device)
    data = transfer_data(method, task, protocol, config.target_days, config.data_seed, data_root, device,
                         config.val_days)
    if check is not None:
        check(data)
    result = claim_result(method, backbone, task, seed, out_root, config, protocol, data.digest)
    with result.held():
        torch.manual_seed(seed)
        return train_and_test(result, data, np.random.default_rng(seed))


@torch.no_grad()
def score_windows(windows: CityWindows, forecast: Callable[[Batch, np.ndarray], torch.Tensor],
                  batch_size: int = 256) -> MetricAccumulator:
    """Metrics of every window in the city's units; ``forecast(batch, positions)`` is z-scored [B, H, N]."""
    metrics = MetricAccumulator(windows.output_len)
    for first in range(0, len(windows), batch_size):
        positions = np.arange(first, min(first + batch_size, len(windows)))
        batch = windows.batch(positions)
        prediction = windows.scaler.inverse_transform(forecast(batch, positions))
        metrics.update(prediction.cpu(), batch.targets.cpu(), batch.mask.cpu(), windows.day_types(positions))
    return metrics


def validation_mae(score: Callable[[CityWindows], MetricAccumulator], windows: CityWindows | None):
    """``() -> avg MAE`` of the model on the validation windows (None without them)."""
    if windows is None:
        return None
    return lambda: score(windows).report(windows.city.interval_minutes)["avg"]["MAE"]


class BestOnValidation:
    """The model-selection rule every trained method shares (BasicTS applies it to the gradient
    methods): every ``every`` fine-tuning steps, and after the last, the model is scored on the
    validation windows carved from the end of the few-shot days; the best state is restored.
    Without validation windows the last state is kept."""

    def __init__(self, model: torch.nn.Module, val_mae: Callable[[], float] | None, every: int, last: int):
        self.model, self.val_mae, self.every, self.last = model, val_mae, max(1, every), last
        self.best: tuple[float, int, dict] | None = None

    def check(self, step: int) -> None:
        if self.val_mae is None or (step % self.every and step != self.last):
            return
        mae = self.val_mae()
        self.model.train()
        if mae is None or math.isnan(mae):  # nothing observed to score, or a diverged model: never selected
            return
        if self.best is None or mae < self.best[0]:
            self.best = (mae, step, {k: v.detach().clone() for k, v in self.model.state_dict().items()})

    def restore(self) -> dict:
        """Load the best state; returns the selection for the result record."""
        if self.best is None:
            return {"selected_step": self.last, "val_MAE": None}
        mae, step, state = self.best
        self.model.load_state_dict(state)
        return {"selected_step": step, "val_MAE": mae}


def finetune_and_test(result: ResultFile, config, data: TransferData, model: torch.nn.Module,
                      finetune: Callable[[BestOnValidation], CurveLog],
                      score: Callable[[CityWindows], MetricAccumulator]) -> dict:
    """The last phases of every trained baseline: ``finetune(selector)`` on the target's few-shot windows
    (the step picked on its validation days), ``score`` its test windows, write the record."""
    method, target = result.settings["method"], data.target_train.city.name
    selector = BestOnValidation(model, validation_mae(score, data.target_val), config.eval_every, config.finetune_steps)
    with phase(logger, method, "fine-tuning", f"on target {target}, {config.finetune_steps} steps"):
        curve = finetune(selector)
    selection = selector.restore()
    with phase(logger, method, "testing", f"on {len(data.target_test)} test windows of {target}"):
        metrics = score(data.target_test)
    return write_transfer_result(result, config, data, metrics, curve, selection)


def meta_learn_and_test(result: ResultFile, config, data: TransferData, model: torch.nn.Module,
                        rng: np.random.Generator, meta_train: Callable, finetune: Callable, score: Callable) -> dict:
    """A meta-learner's phases: ``meta_train(model, sources, config, rng)`` for ``config.meta_iterations``
    iterations, then :func:`finetune_and_test` with ``finetune(model, windows, config, rng, selector)``."""
    method, sources = result.settings["method"], len(data.sources)
    with phase(logger, method, "meta-training", f"{config.meta_iterations} iterations on {sources} source cities"):
        meta_train(model, data.sources, config, rng)
    return finetune_and_test(result, config, data, model,
                             lambda selector: finetune(model, data.target_train, config, rng, selector),
                             lambda windows: score(model, windows))


def write_transfer_result(result: ResultFile, config, data: TransferData, metrics: MetricAccumulator,
                          curve: CurveLog, selection: dict) -> dict:
    """Write a transfer baseline's record (its config, compute, loss curve and model selection) and the
    fine-tuning loss curve as ``train_curve.png`` beside it."""
    meta = {
        **result.meta(), "target_days": config.target_days, "data_seed": config.data_seed,
        "compute": config.compute(), "train_curve": curve.points, "selection": selection,
    }
    record = result_record(meta, data.target_test, data.protocol.name, metrics, str(data.target_test.features.device))
    path = result.write(record)
    if curve.points:
        method, backbone, seed = meta["method"], meta["backbone"], meta["seed"]
        plot_curve(curve.points, str(path.parent / CURVE_PNG), f"{method} ({backbone}) on {meta['task']}, seed {seed}")
    return record
