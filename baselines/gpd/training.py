"""GPD's training loops: per-node models on the sources, their parameters as diffusion data, target fine-tuning."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from baselines.common import BestOnValidation, finetune_batches, score_windows
from baselines.gpd.node_model import NodeModels
from baselines.progress import bar
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss


def node_losses(models: NodeModels, windows: CityWindows, positions: np.ndarray,
                centres: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each model's masked MAE on its centre node ``[M]`` (z-scored targets) and the masked MAE of all of them.

    ``centres``: the city nodes the models forecast (default: every node, in order).
    """
    batch = windows.batch(positions)
    targets = torch.where(batch.mask, windows.scaler.transform(batch.targets), 0.0)
    mask = batch.mask if centres is None else batch.mask[:, :, centres]
    targets = targets if centres is None else targets[:, :, centres]
    prediction = models(batch.inputs)
    weight = mask.to(prediction.dtype)
    per_node = ((prediction - targets).abs() * weight).sum((0, 1)) / weight.sum((0, 1)).clamp_min(1.0)
    return per_node, masked_mae_loss(prediction, targets, mask)


@dataclass
class SourceNodes:
    """The per-node models of one source city's chosen centre nodes."""

    windows: CityWindows
    centres: torch.Tensor  # [M] city nodes
    models: NodeModels


def train_source_models(cities: list[SourceNodes], steps: int, batch_size: int, lr: float,
                        rng: np.random.Generator, label: str) -> list[list[float]]:
    """``steps`` Adam steps of every city's per-node models, each on its own centre's loss (the summed
    per-node losses make every model's gradient its own); a batch of windows per city each step.
    Returns the mean loss curve (blocks of steps)."""
    parameters = [city.models.flat for city in cities]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    curve = CurveLog(steps, points=5)
    for _ in bar(range(steps), steps, label):
        total, mean = 0.0, 0.0
        for city in cities:
            positions = rng.choice(len(city.windows), min(batch_size, len(city.windows)), replace=False)
            per_node, overall = node_losses(city.models, city.windows, positions, city.centres)
            total, mean = total + per_node.sum(), mean + overall / len(cities)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        curve.add(mean)
    return curve.points


@dataclass
class VectorScale:
    """Per-entry mean of the source models' vectors and one overall spread: the diffusion model's units."""

    mean: torch.Tensor  # [P]
    spread: float

    @classmethod
    def fit(cls, vectors: torch.Tensor) -> "VectorScale":
        mean = vectors.mean(0)
        spread = float((vectors - mean).std()) if len(vectors) > 1 else 0.0
        return cls(mean, spread if spread > 1e-8 else 1.0)

    def encode(self, vectors: torch.Tensor) -> torch.Tensor:
        return (vectors - self.mean) / self.spread

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        return encoded * self.spread + self.mean


PROMPT_CLIP = 3.0  # a target feature far outside the sources' (e.g. clustering of a tree-like source) is capped


def standardise(prompts: np.ndarray, reference: np.ndarray) -> torch.Tensor:
    """Prompts in units of the ``reference`` (source) prompts' mean and spread per feature, clipped to
    +-``PROMPT_CLIP``: the generator has seen nothing beyond, and an unclipped 50-spread feature
    (measured on metro) made it generate models far worse than its random initialisation."""
    spread = reference.std(0)
    spread = np.where(spread > 1e-8, spread, 1.0)
    units = np.clip((prompts - reference.mean(0)) / spread, -PROMPT_CLIP, PROMPT_CLIP)
    return torch.from_numpy(units.astype(np.float32))


def finetune(models: NodeModels, windows: CityWindows, steps: int, batch_size: int, lr: float,
             rng: np.random.Generator, selector: BestOnValidation, label: str) -> CurveLog:
    """``steps`` Adam steps of every generated per-node model on the target's few-shot windows; the loss curve."""
    optimizer = torch.optim.Adam(models.parameters(), lr=lr)
    models.train()
    curve = CurveLog(steps)
    batches = finetune_batches(np.arange(len(windows)), steps, batch_size, rng)
    for step, positions in enumerate(bar(batches, steps, label), 1):
        per_node, overall = node_losses(models, windows, positions)
        optimizer.zero_grad()
        per_node.sum().backward()
        optimizer.step()
        curve.add(overall)
        selector.check(step)
    return curve


def evaluate(models: NodeModels, windows: CityWindows, batch_size: int) -> MetricAccumulator:
    """Metrics of every window in the city's units."""
    models.eval()
    return score_windows(windows, lambda batch, _: models(batch.inputs), batch_size=batch_size)
