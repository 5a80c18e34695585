"""STGP's building blocks: attention with an additive bias, Graphormer's graph encodings, attention prompts.

Everything here is node-agnostic: a city enters only through :class:`CityStructure` (its degrees and
edge-weight buckets, per-city buffers), so one set of weights serves cities of any node count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tsjt_basicts.backbones import CityGraph


def set_dropout(module: nn.Module, p: float) -> None:
    """Set the probability of every dropout of ``module`` (STGP prompts its frozen model without dropout)."""
    for child in module.modules():
        if isinstance(child, nn.Dropout):
            child.p = p


class BiasedAttention(nn.Module):
    """Multi-head self-attention whose logits take an additive bias ``[h, n, n]`` shared by the batch."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        # x: [s n d] (s sequences of n tokens); bias: [h n n] or None
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)  # each [s h n dh]
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if bias is not None:
            scores = scores + bias
        weights = torch.softmax(scores, dim=-1)
        return self.out((weights @ v).transpose(1, 2).flatten(-2))


class TransformerLayer(nn.Module):
    """Post-norm transformer layer (attention, then a ``mlp_ratio``-wide feed-forward), as the authors'."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.attention = BiasedAttention(dim, heads)
        self.feed_forward = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Dropout(dropout),
                                          nn.Linear(mlp_ratio * dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.attention(x, bias)))
        return self.norm2(x + self.dropout(self.feed_forward(x)))


@dataclass(frozen=True)
class CityStructure:
    """What STGP reads of a city's road graph: degrees, edge-weight buckets and diffusion operators."""

    in_degree: torch.Tensor  # [n] long: edges into each node (A[:, j] > 0), capped
    out_degree: torch.Tensor  # [n] long: edges out of each node (A[i, :] > 0), capped
    buckets: torch.Tensor  # [n n] long: 0 = no edge, else 1..num_spatial by the edge's weight / the max weight
    forward: torch.Tensor  # [n n] forward random-walk operator (CSR or dense, the graph's layout)
    backward: torch.Tensor  # [n n] the reversed graph's operator

    @property
    def num_nodes(self) -> int:
        return len(self.in_degree)


def edge_buckets(adjacency: np.ndarray, num_spatial: int) -> np.ndarray:
    """``[n, n]`` edge-weight bucket of each pair: 0 without an edge, else ``ceil(num_spatial * w / max w)``."""
    top = adjacency.max()
    scaled = np.ceil(num_spatial * adjacency / top) if top > 0 else np.zeros_like(adjacency)
    return np.where(adjacency > 0, np.clip(scaled, 1, num_spatial), 0).astype(np.int64)


def city_structure(graph: CityGraph, num_degree: int, num_spatial: int, device: str | torch.device) -> CityStructure:
    """The city's :class:`CityStructure` (degrees capped at ``num_degree - 1``), computed once per graph."""

    def build(g: CityGraph) -> tuple[np.ndarray, ...]:
        edges = g.adjacency > 0
        cap = num_degree - 1
        return (np.minimum(edges.sum(0), cap), np.minimum(edges.sum(1), cap), edge_buckets(g.adjacency, num_spatial))

    in_degree, out_degree, buckets = graph.derived(f"stgp_structure_{num_degree}_{num_spatial}", build)
    as_long = lambda array: torch.as_tensor(array, dtype=torch.long, device=device)  # noqa: E731
    return CityStructure(as_long(in_degree), as_long(out_degree), as_long(buckets), graph.operator("forward", device),
                         graph.operator("backward", device))


class GraphEncoding(nn.Module):
    """Graphormer's structural encodings: degree embeddings added to each node's tokens (centrality) and
    one learned attention bias per head for each edge-weight bucket (the spatial encoding).
    Degree 0 and "no edge" (bucket 0) have zero embeddings, as the padding rows of the authors'."""

    def __init__(self, dim: int, heads: int, num_degree: int, num_spatial: int):
        super().__init__()
        self.in_degree = nn.Embedding(num_degree, dim, padding_idx=0)
        self.out_degree = nn.Embedding(num_degree, dim, padding_idx=0)
        self.spatial = nn.Embedding(num_spatial + 1, heads, padding_idx=0)
        for table in (self.in_degree, self.out_degree, self.spatial):
            nn.init.normal_(table.weight, std=0.02)
            with torch.no_grad():
                table.weight[0].zero_()

    def node_bias(self, city: CityStructure) -> torch.Tensor:
        """``[n, d]`` added to every token of each node."""
        return self.in_degree(city.in_degree) + self.out_degree(city.out_degree)

    def attention_bias(self, city: CityStructure) -> torch.Tensor:
        """``[h, n, n]`` added to the attention logits of query node i over key node j."""
        return self.spatial(city.buckets).permute(2, 0, 1)


class AttentionPrompt(nn.Module):
    """STGP's prompt: ``x + sum_k s_k p_k`` with scores ``s_k = sigmoid(x . p_k)``, those at most ``threshold`` zeroed.

    :meth:`delta`'s ``where`` (broadcastable to ``x[..., 0]``) limits the term to some tokens (the forecasting
    task prompts history and future patches with separate prompt sets)."""

    def __init__(self, count: int, dim: int, threshold: float):
        super().__init__()
        self.prompts = nn.Parameter(torch.empty(count, dim))
        nn.init.kaiming_uniform_(self.prompts, a=0.01, nonlinearity="leaky_relu")
        self.threshold = threshold

    def delta(self, x: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
        """The prompt term ``sum_k s_k p_k`` of each token of ``x`` [..., d]."""
        scores = torch.sigmoid(x @ self.prompts.T)  # [... k]
        scores = scores * (scores > self.threshold)
        if where is not None:
            scores = scores * where[..., None]
        return scores @ self.prompts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.delta(x)
