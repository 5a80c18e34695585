"""DSTAGNN's layers on batch-first, node-second features ``[b n t c]``; none depends on N."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tsjt_basicts.backbones.layers import DilatedGatedConv


class TemporalAttention(nn.Module):
    """Multi-head self-attention over the steps, shared by all nodes, scores carried between blocks.

    As in the original, one attention map per sample and head relates the steps of the whole city:
    the score of steps (t, s) averages the nodes' scaled dot products ``q_n(t) . k_n(s) / sqrt(d_k)``
    (the original's query embeds a step by all N nodes' values). Returns the attended features
    (residual, layer norm without weights, as the original's LayerNorm built inside forward) and the
    raw scores ``[b h t t]`` the next block adds to its own.
    """

    def __init__(self, channels: int, num_heads: int, d_k: int):
        super().__init__()
        self.num_heads, self.d_k = num_heads, d_k
        self.query = nn.Linear(channels, num_heads * d_k, bias=False)
        self.key = nn.Linear(channels, num_heads * d_k, bias=False)
        self.value = nn.Linear(channels, num_heads * d_k, bias=False)
        self.out = nn.Linear(num_heads * d_k, channels, bias=False)

    def forward(self, x: torch.Tensor, previous: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        # x: [b n t c] -> [b n t c], scores [b h t t]
        q, k, v = (p(x).unflatten(-1, (self.num_heads, self.d_k)) for p in (self.query, self.key, self.value))
        scores = torch.einsum("bnthd,bnshd->bhts", q, k) / (x.shape[1] * math.sqrt(self.d_k))
        if previous is not None:
            scores = scores + previous
        context = torch.einsum("bhts,bnshd->bnthd", scores.softmax(dim=-1), v).flatten(-2)  # [b n t (h d)]
        return F.layer_norm(self.out(context) + x, x.shape[-1:]), scores


class SpatialAttention(nn.Module):
    """Scaled dot-product scores between nodes, one head per Chebyshev term: ``[b n d] -> [b K n n]``."""

    def __init__(self, d_model: int, num_heads: int, d_k: int):
        super().__init__()
        self.num_heads, self.d_k = num_heads, d_k
        self.query = nn.Linear(d_model, num_heads * d_k, bias=False)
        self.key = nn.Linear(d_model, num_heads * d_k, bias=False)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        q = self.query(s).unflatten(-1, (self.num_heads, self.d_k)).transpose(1, 2)  # [b K n d]
        k = self.key(s).unflatten(-1, (self.num_heads, self.d_k)).transpose(1, 2)
        return q @ k.transpose(-1, -2) / math.sqrt(self.d_k)


class AttentiveChebConv(nn.Module):
    """Chebyshev graph conv whose k-th polynomial is modulated by spatial attention, then ReLU.

    ``A_k = softmax_i(scores_k + w_k P) * T_k`` (softmax over the source node i of each column, P the
    STAG neighbours and self loops, w_k a learned scalar); node j gets ``sum_k sum_i A_k[i, j] x_i
    Theta_k``. Up to ``extra_supports`` further per-sample operators (a learned graph) add one-hop
    terms ``S x Theta_s``; left out at call time, their rows of the weight are unused.
    """

    def __init__(self, in_channels: int, out_channels: int, order: int, extra_supports: int = 0):
        super().__init__()
        self.prior_weight = nn.Parameter(torch.zeros(order))
        self.weight = nn.Parameter(torch.empty((order + extra_supports) * in_channels, out_channels))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: torch.Tensor, chebyshev: torch.Tensor, scores: torch.Tensor, prior: torch.Tensor,
                supports: Sequence[torch.Tensor]) -> torch.Tensor:
        # x: [b n t c], chebyshev: [K n n], scores: [b K n n], prior: [n n] -> [b n t c_out]
        b, n, t, c = x.shape
        attention = (scores + self.prior_weight.view(1, -1, 1, 1) * prior).softmax(dim=2)
        operators = (chebyshev * attention).transpose(2, 3)  # node j gathers row j: [b K n n]
        if supports:
            operators = torch.cat([operators, torch.stack(list(supports), dim=1)], dim=1)
        if operators.shape[1] * c > self.weight.shape[0]:
            raise ValueError("AttentiveChebConv got more graph supports than it was built for")
        terms = operators @ x.reshape(b, 1, n, t * c)  # [b m n (t c)]
        terms = terms.reshape(b, -1, n, t, c).permute(0, 2, 3, 1, 4).flatten(-2)  # [b n t (m c)]
        return torch.relu(terms @ self.weight[: terms.shape[-1]])


class MultiScaleGTU(nn.Module):
    """Gated temporal units ``tanh(P) * sigmoid(Q)`` of several kernel sizes, their outputs concatenated
    along time and mapped back to ``steps`` steps by a linear layer (then dropout)."""

    def __init__(self, channels: int, kernels: Sequence[int], steps: int, dropout: float):
        super().__init__()
        self.units = nn.ModuleList(DilatedGatedConv(channels, channels, k, 1) for k in kernels)
        self.merge = nn.Linear(sum(steps - k + 1 for k in kernels), steps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [b n t c] -> [b n t c]; DilatedGatedConv convolves axis 2
        h = torch.cat([unit(x) for unit in self.units], dim=2)  # [b n sum(t - k + 1) c]
        return self.dropout(self.merge(h.transpose(2, 3)).transpose(2, 3))


class DSTAGNNBlock(nn.Module):
    """Spatial-temporal attention block: temporal attention -> node summary -> spatial attention ->
    attentive Chebyshev conv -> multi-scale GTU, with residual connections and layer norm.

    The first block adds a learned step embedding before its temporal attention, projects its
    residual to ``channels`` and has no residual around its GTUs (the original's first block, whose
    single input feature cannot be added to the graph conv's channels).
    """

    def __init__(self, in_channels: int, channels: int, steps: int, d_model: int, d_k: int, num_heads: int,
                 order: int, kernels: Sequence[int], dropout: float, extra_supports: int, first: bool):
        super().__init__()
        self.first = first
        if first:
            self.step_embedding = nn.Parameter(torch.randn(steps, in_channels))
            self.embedding_norm = nn.LayerNorm(in_channels)
            self.residual = nn.Linear(in_channels, channels)
        self.temporal_attention = TemporalAttention(in_channels, num_heads, d_k)
        self.summary = nn.Linear(steps * in_channels, d_model)
        self.summary_norm = nn.LayerNorm(d_model)
        self.spatial_attention = SpatialAttention(d_model, order, d_k)
        self.graph_conv = AttentiveChebConv(in_channels, channels, order, extra_supports)
        self.temporal = MultiScaleGTU(channels, kernels, steps, dropout)
        self.norm = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, previous: torch.Tensor | None, chebyshev: torch.Tensor, prior: torch.Tensor,
                supports: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        # x: [b n t c] -> [b n t channels], temporal scores [b n h t t]
        h = self.embedding_norm(x + self.step_embedding) if self.first else x
        attended, scores = self.temporal_attention(h, previous)
        summary = self.dropout(self.summary_norm(self.summary(attended.flatten(2))))  # [b n d_model]
        spatial = self.graph_conv(x, chebyshev, self.spatial_attention(summary), prior, supports)
        temporal = self.temporal(spatial)
        if self.first:
            temporal, residual = torch.relu(temporal), self.residual(x)
        else:
            temporal, residual = torch.relu(spatial + temporal), x
        return self.norm(torch.relu(residual + temporal)), scores
