"""DASTNet's modules: gradient reversal, node2vec spatial encoders, the node-shared temporal GRU,
the fusion of the target's private and shared spatial embeddings, and the domain classifier.

Every per-city module is keyed by the city's name (:func:`module_key`), and every module acts on
nodes one by one (with the mean of their neighbours), so a model serves cities of any names and
sizes. Shapes: ``b`` windows, ``t`` input steps, ``n`` nodes, ``c`` input channels, ``v`` node2vec
size, ``e`` spatial embedding size, ``h`` hidden size, ``o`` output steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tsjt_basicts.data.city import DataError


class GradientReversal(torch.autograd.Function):
    """The identity forward; backward, the gradient times ``-scale`` (Ganin & Lempitsky, ICML 2015)."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(inputs: torch.Tensor, scale: float) -> torch.Tensor:
    """``inputs`` unchanged; the gradient through it is flipped and scaled by ``scale``."""
    return GradientReversal.apply(inputs, scale)


def reversal_scale(progress: float) -> float:
    """Lambda at ``progress`` in [0, 1] of pre-training: ``2 / (1 + exp(-10 p)) - 1``, from 0 towards 1."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


def module_key(city: str) -> str:
    """A module name for ``city``: escaped so any name (dots, or ``keys``) is a distinct valid key."""
    return "city:" + city.replace("%", "%25").replace(".", "%2E")


def mean_of_neighbours(adjacency: np.ndarray) -> torch.Tensor:
    """``[n, n]``: row i averages node i's neighbours (edges ``A_ij > 0``, self-loops dropped); isolated rows 0."""
    edges = (np.asarray(adjacency) > 0).astype(np.float32)
    np.fill_diagonal(edges, 0.0)
    return torch.from_numpy(edges / np.maximum(edges.sum(1, keepdims=True), 1.0))


@dataclass
class CityNodes:
    """What the spatial encoders read of one city: its name, node2vec vectors ``[n, v]`` and
    neighbour-mean operator ``[n, n]``."""

    name: str
    vectors: torch.Tensor
    neighbours: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.vectors) < 2:  # batch norm over the nodes needs two of them
            raise DataError(f"city {self.name!r} has {len(self.vectors)} node(s); DASTNet needs at least 2")


class SpatialEncoder(nn.Module):
    """The authors' GIN-style extractor: ``outer(norm(mean_neighbours(h) + eps h))``, ``h = inner(vectors)``."""

    def __init__(self, vec_dim: int, hidden_dim: int, embed_dim: int):
        super().__init__()
        self.inner = nn.Linear(vec_dim, hidden_dim)
        self.eps = nn.Parameter(torch.ones(1))
        self.norm = nn.BatchNorm1d(hidden_dim)
        self.outer = nn.Linear(hidden_dim, embed_dim)

    def forward(self, city: CityNodes) -> torch.Tensor:
        h = self.inner(city.vectors)  # h: [n h]
        return self.outer(self.norm(city.neighbours @ h + self.eps * h))  # [n e]


class Fusion(nn.Module):
    """The target's spatial embedding at fine-tuning: ``combine(private(p) + shared(s))``."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.private = nn.Linear(embed_dim, embed_dim)
        self.shared = nn.Linear(embed_dim, embed_dim)
        self.combine = nn.Linear(embed_dim, embed_dim)

    def forward(self, private: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
        return self.combine(self.private(private) + self.shared(shared))


class TemporalExtractor(nn.Module):
    """A GRU over the input steps, shared by all nodes; after each step the state is mixed with the
    node's (projected) spatial embedding, as the authors' VGRU cell."""

    def __init__(self, in_channels: int, hidden_dim: int, embed_dim: int):
        super().__init__()
        self.cell = nn.GRUCell(in_channels, hidden_dim)
        self.place = nn.Linear(embed_dim, embed_dim)
        self.mix = nn.Linear(hidden_dim + embed_dim, hidden_dim)

    def forward(self, inputs: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        b, t, n, c = inputs.shape  # inputs: [b t n c]; spatial: [n e]
        place = self.place(spatial).expand(b, n, -1).reshape(b * n, -1)
        state = inputs.new_zeros(b * n, self.cell.hidden_size)
        for step in range(t):
            state = self.mix(torch.cat([self.cell(inputs[:, step].reshape(b * n, c), state), place], dim=1))
        return state.view(b, n, -1)  # [b n h]


class DomainClassifier(nn.Module):
    """Which city a node's shared spatial embedding comes from, behind a gradient reversal layer."""

    def __init__(self, embed_dim: int, domains: int, hidden: int = 16):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(embed_dim, hidden), nn.Tanh(), nn.Linear(hidden, domains))

    def forward(self, embeddings: torch.Tensor, scale: float) -> torch.Tensor:
        return self.layers(reverse_gradient(embeddings, scale))  # logits [n domains]


class DASTNetModel(nn.Module):
    """Shared spatial encoders and forecast heads per city (sources and target, keyed by name), the
    target's private encoder and fusion, one temporal extractor for all cities.

    A source's forecast reads its shared embedding; the target's reads the fusion of its private and
    shared embeddings (only used after pre-training, which forecasts the sources alone).
    """

    def __init__(self, sources: list[str], target: str, vec_dim: int, hidden_dim: int, embed_dim: int,
                 in_channels: int, output_len: int):
        super().__init__()
        cities = [*sources, target]
        if len(set(cities)) != len(cities):
            raise DataError(f"DASTNet keys its modules by city name; the task names a city twice: {cities}")
        self.target = target
        self.shared = nn.ModuleDict({module_key(c): SpatialEncoder(vec_dim, hidden_dim, embed_dim) for c in cities})
        self.private = SpatialEncoder(vec_dim, hidden_dim, embed_dim)
        self.fusion = Fusion(embed_dim)
        self.temporal = TemporalExtractor(in_channels, hidden_dim, embed_dim)
        self.heads = nn.ModuleDict({module_key(c): nn.Linear(hidden_dim, output_len) for c in cities})

    def shared_embedding(self, city: CityNodes) -> torch.Tensor:
        """``[n e]`` from the city's shared encoder (what the domain classifier sees)."""
        return self.shared[module_key(city.name)](city)

    def spatial_embedding(self, city: CityNodes) -> torch.Tensor:
        shared = self.shared_embedding(city)
        return self.fusion(self.private(city), shared) if city.name == self.target else shared

    def forward(self, inputs: torch.Tensor, city: CityNodes, spatial: torch.Tensor | None = None) -> torch.Tensor:
        """Z-scored forecasts ``[b o n]`` of ``inputs [b t n c]``; ``spatial`` (``[n e]``) if already computed."""
        spatial = self.spatial_embedding(city) if spatial is None else spatial
        return self.heads[module_key(city.name)](self.temporal(inputs, spatial)).transpose(1, 2)
