"""Graph convolutions on node-first features ``[n, ...]``.

An operator is either a static ``[n, n]`` matrix (dense or CSR, from a
:class:`~tsjt_basicts.backbones.layers.graph.CityGraph`) shared by the whole batch, or a batched
dense ``[b, n, n]`` matrix (a learned graph); node-first features then carry the batch on axis 1.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Recurrence = Literal["power", "chebyshev"]


def propagate(operator: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``operator @ x`` along the node axis 0.

    operator: ``[n n]`` (dense or CSR) or ``[b n n]``; x: ``[n b ...]``.
    """
    if operator.dim() == 3:  # learned graph, one per sample
        n, b = x.shape[:2]
        flat = x.transpose(0, 1).reshape(b, n, -1)  # [b n f]
        return torch.bmm(operator, flat).reshape(b, n, *x.shape[2:]).transpose(0, 1)
    flat = x.reshape(x.shape[0], -1)  # [n f]
    out = torch.sparse.mm(operator, flat) if operator.layout == torch.sparse_csr else operator @ flat
    return out.reshape(x.shape)


def diffusion_terms(
    x: torch.Tensor, operators: Sequence[torch.Tensor], steps: int, recurrence: Recurrence = "power"
) -> list[torch.Tensor]:
    """``[x, S1 x, .., S1^K x, S2 x, ..]``: ``1 + len(operators) * steps`` tensors shaped like x.

    ``"power"`` is the plain series S^k x (Graph WaveNet); ``"chebyshev"`` uses
    ``x_k = 2 S x_{k-1} - x_{k-2}`` (DCRNN's code). Every operator's series starts from x.
    """
    terms = [x]
    for op in operators if steps > 0 else ():
        previous, current = x, propagate(op, x)
        terms.append(current)
        for _ in range(2, steps + 1):
            following = propagate(op, current)
            if recurrence == "chebyshev":
                following = 2.0 * following - previous
            previous, current = current, following
            terms.append(current)
    return terms


def mix_terms(terms: Sequence[torch.Tensor], weight: torch.Tensor, bias: torch.Tensor, layer: str) -> torch.Tensor:
    """``[terms] @ weight[:rows] + bias``: the terms of optional supports left out count as zeros.

    weight: ``[max_terms * c, c_out]``; each term ``[..., c]``.
    """
    h = torch.cat(list(terms), dim=-1)
    if h.shape[-1] > weight.shape[0]:
        raise ValueError(f"{layer} got more graph supports than it was built for")
    return h @ weight[: h.shape[-1]] + bias


class ChebGraphConv(nn.Module):
    """Chebyshev spectral graph convolution ``sum_k T_k(L~) x Theta_k`` (Defferrard et al. 2016).

    Args: in_channels, out_channels, order (number of polynomial terms K, STGCN's Ks), extra_supports
    (at most this many further operators, each added as a one-hop term ``S x Theta_s``, e.g. the
    support of TSJT's A_K; they may be left out at call time).
    """

    def __init__(self, in_channels: int, out_channels: int, order: int, extra_supports: int = 0):
        super().__init__()
        self.order = order
        self.weight = nn.Parameter(torch.empty((order + extra_supports) * in_channels, out_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: torch.Tensor, laplacian: torch.Tensor, supports: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        # x: [n b t c] -> [n b t c_out]
        terms = [x]
        if self.order > 1:
            terms.append(propagate(laplacian, x))
        for _ in range(2, self.order):
            terms.append(2.0 * propagate(laplacian, terms[-1]) - terms[-2])
        terms += [propagate(support, x) for support in supports]
        return mix_terms(terms, self.weight, self.bias, "ChebGraphConv")  # [n b t (k c)] -> [n b t c_out]


class DiffusionGraphConv(nn.Module):
    """Graph WaveNet's graph convolution: concatenate the diffusion series, mix with a 1x1 conv.

    Args: in_channels, out_channels, num_operators (at most), order (diffusion steps K), dropout.
    Called with fewer operators (an optional learned graph left out), it mixes with the leading
    weight columns only: the same as feeding zeros for the missing operators' terms.
    """

    def __init__(self, in_channels: int, out_channels: int, num_operators: int, order: int, dropout: float):
        super().__init__()
        self.order = order
        self.mix = nn.Linear((order * num_operators + 1) * in_channels, out_channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, operators: Sequence[torch.Tensor]) -> torch.Tensor:
        # x: [n b t c] -> [n b t c_out]
        h = torch.cat(diffusion_terms(x, operators, self.order), dim=-1)  # [n b t (m c)]
        if h.shape[-1] > self.mix.in_features:
            raise ValueError(f"DiffusionGraphConv got {len(operators)} operators, more than it was built for")
        return self.dropout(F.linear(h, self.mix.weight[:, : h.shape[-1]], self.mix.bias))
