"""AdaRNN's distribution distances and temporal distribution matching (TDM).

A :class:`Distance` compares two sample sets ``[n, ..., d]`` (samples first, features last) and
returns one distance per middle index, e.g. per time step of GRU hidden states ``[n, L, d]``. It
is split into a per-set statistic and a comparison of two statistics, so TDM summarises each
domain once per step and compares every pair of domains cheaply.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import torch


@dataclass(frozen=True)
class Distance:
    """``compare(statistic(x), statistic(y))``: the distance of sample sets x and y."""

    statistic: Callable[[torch.Tensor], torch.Tensor]
    compare: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.compare(self.statistic(x), self.statistic(y))


def sample_mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(0)  # x: [n ... d] -> [... d]


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Unbiased feature covariance over the samples: ``[n ... d] -> [... d d]``."""
    centred = (x - x.mean(0)).movedim(0, -2)  # [... n d]
    return centred.transpose(-1, -2) @ centred / max(1, x.shape[0] - 1)


def squared_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).sum(-1)


def coral_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius distance of covariances over ``4 d^2`` (Sun & Saenko's CORAL loss)."""
    return (a - b).pow(2).sum((-2, -1)) / (4 * a.shape[-1] ** 2)


def cosine_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1 - torch.nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-8)


DISTANCES: dict[str, Distance] = {
    "mmd": Distance(sample_mean, squared_gap),  # MMD with a linear kernel: squared gap of the means
    "coral": Distance(covariance, coral_gap),
    "cosine": Distance(sample_mean, cosine_gap),  # 1 - cosine similarity of the means
}


def step_distances(hidden: list[torch.Tensor], domain_sizes: list[int], distance: Distance) -> torch.Tensor:
    """``[layers, L]``: per GRU layer and time step, the distance of the hidden states summed over
    every pair of domains. ``hidden``: per layer ``[S, L, d]``, the domains' sequences in blocks of
    ``domain_sizes`` rows."""
    rows = []
    for states in hidden:
        summaries = [distance.statistic(block) for block in states.split(domain_sizes)]  # each [L ...]
        pairs = [distance.compare(a, b) for a, b in combinations(summaries, 2)]
        rows.append(torch.stack(pairs).sum(0) if pairs else states.new_zeros(states.shape[1]))
    return torch.stack(rows)


def tdm_loss(distances: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The importance-weighted sum of the per-layer, per-step domain distances."""
    return (weights * distances).sum()


class BoostedWeights:
    """Per-layer, per-step importance weights of TDM, updated as AdaRNN's boosting rule.

    Weights start uniform (``1 / L`` per layer). Each epoch's distances are averaged; after every
    epoch but the first, the weight of a (layer, step) whose distance grew since the previous
    epoch is multiplied by ``1 + sigmoid(new - old)``; each layer's weights are then renormalised
    to sum to 1, so steps whose distributions are hard to match gain importance.
    """

    def __init__(self, layers: int, steps: int, device: torch.device | str = "cpu"):
        self.weights = torch.full((layers, steps), 1.0 / steps, device=device)
        self.previous: torch.Tensor | None = None
        self.total = torch.zeros(layers, steps, device=device)
        self.count = 0

    def add(self, distances: torch.Tensor) -> None:
        """Record one step's distances ``[layers, L]``."""
        self.total += distances.detach()
        self.count += 1

    def end_epoch(self) -> None:
        """Apply the boosting update with this epoch's mean distances and start a new epoch."""
        if self.count == 0:
            return
        current = self.total / self.count
        if self.previous is not None:
            grew = current > self.previous + 1e-12
            boosted = self.weights * (1 + torch.sigmoid(current - self.previous))
            self.weights = torch.where(grew, boosted, self.weights)
            self.weights = self.weights / self.weights.sum(1, keepdim=True)
        self.previous, self.total, self.count = current, torch.zeros_like(self.total), 0
