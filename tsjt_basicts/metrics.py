"""Masked MAE / RMSE / MAPE in the city's own units, per horizon step and averaged.

Only missing values are masked. MAPE additionally leaves out true zeros (real zero counts are
scored by MAE and RMSE, but have no percentage error). Paper Table 2 labels its columns
10/30/60 min for every city; we report ``minutes = step x interval`` instead.
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
        self.abs = np.zeros(horizon)
        self.sq = np.zeros(horizon)
        self.count = np.zeros(horizon)
        self.pct = np.zeros(horizon)
        self.pct_count = np.zeros(horizon)

    def update(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> None:
        error = (prediction - target).double()
        mask = mask.double()
        nonzero = mask * (target != 0).double()
        self.abs += (error.abs() * mask).sum(dim=(0, 2)).cpu().numpy()
        self.sq += (error.square() * mask).sum(dim=(0, 2)).cpu().numpy()
        self.count += mask.sum(dim=(0, 2)).cpu().numpy()
        ratio = error.abs() / target.double().abs().clamp_min(1e-12)
        self.pct += (ratio * nonzero).sum(dim=(0, 2)).cpu().numpy()
        self.pct_count += nonzero.sum(dim=(0, 2)).cpu().numpy()

    def per_step(self) -> dict[str, np.ndarray]:
        count = np.maximum(self.count, 1)
        return {
            "MAE": self.abs / count,
            "RMSE": np.sqrt(self.sq / count),
            "MAPE": 100.0 * self.pct / np.maximum(self.pct_count, 1),
        }

    def report(self, interval_minutes: int) -> dict[str, dict[str, float]]:
        """``{"step1": {...}, "step3": ..., "step6": ..., "avg": ...}`` plus every step in ``per_step``."""
        per_step = self.per_step()
        report: dict[str, dict[str, float]] = {}
        for step in REPORTED_STEPS:
            if step <= len(self.count):
                report[f"step{step}"] = {"minutes": step * interval_minutes, **_pick(per_step, step - 1)}
        avg_count = np.maximum(self.count.sum(), 1)
        report["avg"] = {
            "MAE": float(self.abs.sum() / avg_count),
            "RMSE": float(np.sqrt(self.sq.sum() / avg_count)),
            "MAPE": float(100.0 * self.pct.sum() / np.maximum(self.pct_count.sum(), 1)),
        }
        report["per_step"] = {name: values.tolist() for name, values in per_step.items()}
        return report


def _pick(per_step: dict[str, np.ndarray], index: int) -> dict[str, float]:
    return {name: float(values[index]) for name, values in per_step.items()}
