"""DCRNN's diffusion-convolutional GRU cell on node-first features ``[n b f]``."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tsjt_basicts.backbones.layers.graph_conv import diffusion_terms, mix_terms


class DiffusionLinear(nn.Module):
    """``sum_m terms_m W_m + bias`` over the diffusion series of x (DCRNN's ``_gconv``).

    Weights are created here, in ``__init__``, with the original initialisation (Xavier normal
    weights, constant bias). Called with fewer operators than ``num_operators`` (an optional learned
    support left out), it mixes with the leading weight rows only.
    """

    def __init__(self, in_features: int, out_features: int, num_operators: int, steps: int, bias_start: float):
        super().__init__()
        self.steps = steps
        self.weight = nn.Parameter(torch.empty((num_operators * steps + 1) * in_features, out_features))
        self.bias = nn.Parameter(torch.full((out_features,), bias_start))
        nn.init.xavier_normal_(self.weight)

    def forward(self, x: torch.Tensor, operators: Sequence[torch.Tensor]) -> torch.Tensor:
        # x: [n b f] -> [n b out]
        terms = diffusion_terms(x, operators, self.steps, recurrence="chebyshev")  # (1 + m K) x [n b f]
        return mix_terms(terms, self.weight, self.bias, "DiffusionLinear")


class DCGRUCell(nn.Module):
    """GRU cell whose matrix products are diffusion convolutions (Li et al., ICLR 2018).

    Args: input_size, hidden_size, num_operators (supports), steps (max diffusion step K).
    """

    def __init__(self, input_size: int, hidden_size: int, num_operators: int, steps: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.gates = DiffusionLinear(input_size + hidden_size, 2 * hidden_size, num_operators, steps, 1.0)
        self.candidate = DiffusionLinear(input_size + hidden_size, hidden_size, num_operators, steps, 0.0)

    def forward(self, x: torch.Tensor, h: torch.Tensor, operators: Sequence[torch.Tensor]) -> torch.Tensor:
        # x: [n b f], h: [n b hidden] -> [n b hidden]
        reset, update = torch.sigmoid(self.gates(torch.cat([x, h], dim=2), operators)).chunk(2, dim=2)
        candidate = torch.tanh(self.candidate(torch.cat([x, reset * h], dim=2), operators))
        return update * h + (1.0 - update) * candidate
