"""The NPM's pattern encoder, TSJT paper Eqs. 2-4: a per-node pattern Z of the input window."""
from __future__ import annotations

import math

import torch
from torch import nn

from tsjt_basicts.backbones import CityGraph
from tsjt_basicts.backbones.layers import diffusion_terms
from tsjt_basicts.npm.settings import NPMConfig


def sinusoidal_time_embedding(length: int, dim: int) -> torch.Tensor:
    """``[length, dim]`` sine/cosine position codes (Vaswani et al. 2017), Eq. 2's temporal embedding E_T."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class GraphMixing(nn.Module):
    """One-hop graph convolution over forward and backward transitions: W [h, S_f h, S_b h]."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(3 * dim, dim)

    def forward(self, h: torch.Tensor, graph: CityGraph) -> torch.Tensor:
        # h: [n b t d] -> [n b t d]
        operators = [graph.operator(name, h.device, h.dtype) for name in ("forward", "backward")]
        return self.linear(torch.cat(diffusion_terms(h, operators, steps=1), dim=-1))


class PatternEncoder(nn.Module):
    """Eqs. 2-4: ``Z0 = X W + E_T``; ``Z2 = Norm(Attn(GNN(Z0)) + Z0)``; ``Z = Norm(Z2 + GNN(Z2))``.

    The attention runs over the T steps of each node; every normalisation runs over the D'
    features only, so one encoder serves cities of any node count.

    Deviations from the paper: X (C channels) is projected to D' features before E_T is added
    (Eq. 2 adds E_T to X directly, which needs C = D'); the GNN is a one-hop diffusion over the
    city's forward and backward transition operators (the paper does not fix its form).
    """

    def __init__(self, config: NPMConfig, in_channels: int, input_len: int):
        super().__init__()
        dim = config.prompt_dim
        self.input_projection = nn.Linear(in_channels, dim)
        self.register_buffer("time_embedding", sinusoidal_time_embedding(input_len, dim), persistent=False)
        self.first_graph = GraphMixing(dim)
        self.attention = nn.MultiheadAttention(dim, config.num_heads, dropout=config.dropout, batch_first=True)
        self.attention_norm = nn.LayerNorm(dim)
        self.second_graph = GraphMixing(dim)
        self.graph_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, graph: CityGraph) -> torch.Tensor:
        # x: [b t n c] -> z: [b n t d]
        b, t, n, _ = x.shape
        z0 = (self.input_projection(x) + self.time_embedding[:, None, :]).permute(2, 0, 1, 3)  # Eq. 2: [n b t d]
        mixed = self.first_graph(z0, graph).reshape(n * b, t, -1)
        attended, _ = self.attention(mixed, mixed, mixed, need_weights=False)
        z2 = self.attention_norm(z0 + attended.reshape(n, b, t, -1))  # Eq. 3
        z = self.graph_norm(z2 + self.second_graph(z2, graph))  # Eq. 4
        return z.permute(1, 0, 2, 3)
