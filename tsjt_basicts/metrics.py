"""Masked MAE / RMSE / MAPE in the city's own units, per horizon step and averaged.

Only missing values are masked. MAPE additionally leaves out true zeros (real zero counts are
scored by MAE and RMSE, but have no percentage error). Paper Table 2 labels its columns
10/30/60 min for every city; we report ``minutes = step x interval`` instead.

A metric over no scored value (a horizon step whose targets are all missing; MAPE of a series
that is zero throughout) is undefined: NaN in :meth:`MetricAccumulator.per_step`, ``None`` in the
report, never 0. A model whose errors are not finite (it diverged) is named by
:meth:`MetricAccumulator.non_finite`.

Windows may carry a day type (``"weekday"`` / ``"weekend"`` of their first forecast step, where the
city's start date is known): the report then adds each day type's average and window count, so a
method's error on days like its few-shot days can be told from its error on days it never saw.
"""
from __future__ import annotations

import numpy as np
import torch

REPORTED_STEPS = (1, 3, 6)


def masked_mae_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over observed entries (0 when nothing is observed)."""
    mask = mask.to(prediction.dtype)
    return ((prediction - target).abs() * mask).sum() / mask.sum().clamp_min(1.0)


class MetricAccumulator:
    """Sums of errors per horizon step over any number of batches; ``[B, H, N]`` inputs."""

    def __init__(self, horizon: int):
        self.windows = 0
        self.by_day_type: dict[str, MetricAccumulator] = {}
        self.abs = np.zeros(horizon)
        self.sq = np.zeros(horizon)
        self.count = np.zeros(horizon)
        self.pct = np.zeros(horizon)
        self.pct_count = np.zeros(horizon)

    def update(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
               day_types: np.ndarray | None = None) -> None:
        """Add a batch of windows; ``day_types`` (one label per window, or None) also scores each type apart.
        Give labels with every batch or with none, so that the parts add up to the whole."""
        if day_types is not None:
            for day_type in np.unique(day_types):
                rows = torch.from_numpy(np.asarray(day_types) == day_type).to(prediction.device)
                part = self.by_day_type.setdefault(str(day_type), MetricAccumulator(len(self.count)))
                part.update(prediction[rows], target[rows], mask[rows])
        self.windows += prediction.shape[0]
        error = (prediction - target).double()
        mask = mask.double()
        nonzero = mask * (target != 0).double()
        self.abs += (error.abs() * mask).sum(dim=(0, 2)).cpu().numpy()
        self.sq += (error.square() * mask).sum(dim=(0, 2)).cpu().numpy()
        self.count += mask.sum(dim=(0, 2)).cpu().numpy()
        ratio = error.abs() / target.double().abs().clamp_min(1e-12)
        self.pct += (ratio * nonzero).sum(dim=(0, 2)).cpu().numpy()
        self.pct_count += nonzero.sum(dim=(0, 2)).cpu().numpy()

    @property
    def scored(self) -> int:
        """How many observed target values were scored."""
        return int(self.count.sum())

    def per_step(self) -> dict[str, np.ndarray]:
        """MAE, RMSE, MAPE per horizon step; NaN where the step scored nothing."""
        return {
            "MAE": _mean(self.abs, self.count),
            "RMSE": np.sqrt(_mean(self.sq, self.count)),
            "MAPE": 100.0 * _mean(self.pct, self.pct_count),
        }

    def average(self) -> dict[str, float]:
        """MAE, RMSE, MAPE over every step; NaN where nothing was scored."""
        return {
            "MAE": float(_mean(self.abs.sum(), self.count.sum())),
            "RMSE": float(np.sqrt(_mean(self.sq.sum(), self.count.sum()))),
            "MAPE": float(100.0 * _mean(self.pct.sum(), self.pct_count.sum())),
        }

    def non_finite(self) -> list[str]:
        """The metrics whose summed errors are NaN or infinite (a diverged model); empty when all are finite."""
        sums = {"MAE": self.abs, "RMSE": self.sq, "MAPE": self.pct}
        return [name for name, values in sums.items() if not np.isfinite(values).all()]

    def report(self, interval_minutes: int) -> dict[str, dict]:
        """``{"step1": {...}, "step3": ..., "step6": ..., "avg": ...}`` plus every step in ``per_step``;
        ``None`` for a value that is undefined or not finite."""
        per_step = self.per_step()
        report: dict[str, dict] = {}
        for step in REPORTED_STEPS:
            if step <= len(self.count):
                report[f"step{step}"] = {"minutes": step * interval_minutes, **_pick(per_step, step - 1)}
        report["avg"] = {name: _number(value) for name, value in self.average().items()}
        report["per_step"] = {name: [_number(v) for v in values] for name, values in per_step.items()}
        if self.by_day_type:
            report["by_day_type"] = {
                day_type: {"windows": part.windows, **{k: _number(v) for k, v in part.average().items()}}
                for day_type, part in sorted(self.by_day_type.items())
            }
        return report


def _mean(total: np.ndarray | float, count: np.ndarray | float) -> np.ndarray:
    """``total / count``, NaN where ``count`` is 0."""
    total, count = np.asarray(total, dtype=float), np.asarray(count, dtype=float)
    return np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)


def _number(value: float) -> float | None:
    """``value`` as a JSON number; None when it is NaN or infinite."""
    return float(value) if np.isfinite(value) else None


def _pick(per_step: dict[str, np.ndarray], index: int) -> dict[str, float | None]:
    return {name: _number(values[index]) for name, values in per_step.items()}
