"""What HA and ARIMA share: fit on the target's few-shot steps, score its test windows, write the record.

Everything goes through the project's own protocol objects (:func:`split_target`,
:func:`city_windows`, :class:`MetricAccumulator`, :func:`result_record`), so a baseline's
``test_metrics.json`` is scored on exactly the windows, mask and units of the gradient methods.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.split import VAL_DAYS, Protocol, StepRange, split_source, split_target
from tsjt_basicts.data.tasks import TASKS, load_task
from tsjt_basicts.data.windows import Batch, CityWindows, city_windows
from tsjt_basicts.curves import CURVE_PNG, CurveLog, plot_curve
from tsjt_basicts.metrics import MetricAccumulator
from tsjt_basicts.results import result_record, run_folder, write_result

Forecast = Callable[[np.ndarray], np.ndarray]
"""Window start steps ``[B]`` -> forecasts ``[B, output_len, N]`` in the city's units."""
Fit = Callable[[City, StepRange, Protocol], Forecast]
"""Fits a baseline on the target's few-shot training steps."""


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
    split = split_target(target, protocol)
    windows = city_windows(target, split, "test", protocol)
    forecast = fit(target, split.train, protocol)
    metrics = MetricAccumulator(protocol.output_len)
    for first in range(0, len(windows), batch_size):
        positions = np.arange(first, min(first + batch_size, len(windows)))
        batch = windows.batch(positions)
        prediction = torch.from_numpy(forecast(windows.starts[positions]).astype(np.float32))
        metrics.update(prediction, batch.targets, batch.mask)
    return result_record(meta, windows, protocol.name, metrics, device="cpu")


def run_baseline(
    method: str,
    fit: Fit,
    task: str,
    seed: int,
    protocol: str,
    out_root: str,
    data_root: str | None,
    target_days: float,
    data_seed: int,
) -> dict:
    """Evaluate ``fit`` on ``task`` and write ``<out_root>/<method>/<task>/<protocol>_seed<seed>/test_metrics.json``.

    The baselines are deterministic: ``seed`` only labels the record (so it pairs with the
    gradient methods' seeds); ``data_seed`` generates the synthetic cities, as for those methods.
    """
    split_protocol = Protocol(name=protocol, target_days=target_days)
    target, _ = load_task(task, data_root=data_root, seed=data_seed, protocol=split_protocol)
    meta = {
        "method": method, "backbone": "-", "task": task, "seed": seed,
        "target_days": target_days, "data_seed": data_seed,
    }
    record = evaluate(target, fit, meta, split_protocol)
    write_result(run_folder(out_root, method, "-", task, protocol, seed), record)
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


def transfer_data(method: str, task: str, protocol: str, target_days: float, data_seed: int,
                  data_root: str | None, device: str = "cpu", val_days: float = 0.0) -> TransferData:
    """The task's few-shot target windows (training and validation part), test windows and source
    windows (sources are required), on ``device``."""
    split_protocol = Protocol(name=protocol, target_days=target_days, val_days=val_days)
    target, sources = load_task(task, data_root=data_root, seed=data_seed, protocol=split_protocol)
    if not sources:
        raise DataError(f"task {task!r} has no source city; {method} needs sources to transfer from")
    split = split_target(target, split_protocol)
    return TransferData(
        split_protocol,
        split.train,
        city_windows(target, split, "train", split_protocol).to(device),
        city_windows(target, split, "val", split_protocol).to(device) if split.val is not None else None,
        city_windows(target, split, "test", split_protocol).to(device),
        [city_windows(c, split_source(c), "train", split_protocol).to(device) for c in sources],
    )


@torch.no_grad()
def score_windows(windows: CityWindows, forecast: Callable[[Batch, np.ndarray], torch.Tensor],
                  batch_size: int = 256) -> MetricAccumulator:
    """Metrics of every window in the city's units; ``forecast(batch, positions)`` is z-scored [B, H, N]."""
    metrics = MetricAccumulator(windows.output_len)
    for first in range(0, len(windows), batch_size):
        positions = np.arange(first, min(first + batch_size, len(windows)))
        batch = windows.batch(positions)
        prediction = windows.scaler.inverse_transform(forecast(batch, positions))
        metrics.update(prediction.cpu(), batch.targets.cpu(), batch.mask.cpu())
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
        if self.best is None or mae < self.best[0]:
            self.best = (mae, step, {k: v.detach().clone() for k, v in self.model.state_dict().items()})

    def restore(self) -> dict:
        """Load the best state; returns the selection for the result record."""
        if self.best is None:
            return {"selected_step": self.last, "val_MAE": None}
        mae, step, state = self.best
        self.model.load_state_dict(state)
        return {"selected_step": step, "val_MAE": mae}


def write_transfer_result(method: str, backbone: str, task: str, seed: int, out_root: str, config,
                          data: TransferData, metrics: MetricAccumulator, curve: CurveLog, selection: dict) -> dict:
    """Write ``<out_root>/<method>_<backbone>/<task>/<protocol>_seed<seed>/test_metrics.json`` and the
    fine-tuning loss curve as ``train_curve.png`` beside it."""
    meta = {
        "method": method, "backbone": backbone, "task": task, "seed": seed,
        "target_days": config.target_days, "data_seed": config.data_seed, "config": asdict(config),
        "compute": config.compute(), "train_curve": curve.points, "selection": selection,
    }
    record = result_record(meta, data.target_test, data.protocol.name, metrics, str(data.target_test.features.device))
    folder = run_folder(out_root, method, backbone, task, data.protocol.name, seed)
    write_result(folder, record)
    if curve.points:
        plot_curve(curve.points, os.path.join(folder, CURVE_PNG), f"{method} ({backbone}) on {task}, seed {seed}")
    return record


def parser(method: str, trained: bool = False) -> argparse.ArgumentParser:
    """The command line every baseline shares (``trained``: also ``--device``)."""
    cli = argparse.ArgumentParser(
        prog=f"python -m baselines.{method.lower()}",
        description=f"{method} on a task's target city; writes test_metrics.json",
    )
    cli.add_argument("--task", required=True, choices=sorted(TASKS), help="named cross-city task")
    seeding = "seed of initialisation and sampling" if trained else "run label (the baseline is deterministic)"
    cli.add_argument("--seed", type=int, default=0, help=seeding)
    cli.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic cities")
    cli.add_argument("--protocol", choices=("strict", "stgfsl"), default="strict", help="few-shot protocol")
    cli.add_argument("--target-days", type=float, default=3.0, help="few-shot days of the target city")
    cli.add_argument("--out-root", default="checkpoints", help="results go to OUT_ROOT/<method>/<task>/...")
    cli.add_argument("--data-root", default=None, help="prepared cities (default: the project's datasets/)")
    if trained:
        cli.add_argument("--device", default="cpu", help="torch device to train and test on, e.g. cuda:0")
    return cli


def summary(record: dict) -> str:
    """One line: method, target, data kind, protocol and the averaged metrics."""
    avg = record["metrics"]["avg"]
    return (
        f"{record['method']} on {record['target']} [{record['data_kind']} data, {record['protocol']} protocol, "
        f"seed {record['seed']}]: avg MAE {avg['MAE']:.4f}, RMSE {avg['RMSE']:.4f}, MAPE {avg['MAPE']:.2f}%"
    )
