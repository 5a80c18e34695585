"""The prompt bank (Eqs. 5-6) and the prompt graph A_K with the support built from it (Eq. 7)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tsjt_basicts.npm.settings import NPMConfig


def score_scale(config: NPMConfig, input_len: int) -> float:
    """The factor of the bank scores: 1/sqrt(D') in Eq. 5; 1/sqrt(T D') or 1 as options."""
    return {
        "sqrt_d": 1.0 / math.sqrt(config.prompt_dim),
        "sqrt_td": 1.0 / math.sqrt(input_len * config.prompt_dim),
        "none": 1.0,
    }[config.score_scale]


class PromptBank(nn.Module):
    """Eqs. 5-6: K learnable prompts ``[K, T, D']`` attended with the node pattern Z as query.

    ``alpha_ik = softmax_k(<Z_i, B_k>_F * scale)`` and ``P_i = sum_k alpha_ik B_k``. The bank starts
    from ``N(0, prompt_init_std^2)``: with a LayerNorm'd Z the scores then have a standard deviation
    of about ``sqrt(T) * prompt_init_std`` under Eq. 5's scale (about 1.7 at the default 0.5), so
    nodes with different patterns attend to different prompts from the first step. Measured on
    metro, TSJT-paper(GWN), seeds 0 / 1 (2-core CPU): after 104 steps a 0.1 std left the attention
    near uniform (entropy / log K 0.91-0.98) and 1.0, the authors' ``randn``, cost accuracy (avg
    MAE 45.4 / 40.8 against 39.9 / 43.2 at 0.3 and 36.3 at 0.1: the bank had barely moved from its
    start); after 600 steps 0.5 gave 27.63 / 29.11 (entropy 0.77 / 0.62) and 0.3 gave 28.26 / 29.03
    (0.82 / 0.72).
    """

    def __init__(self, config: NPMConfig, input_len: int):
        super().__init__()
        bank = torch.randn(config.num_prompts, input_len, config.prompt_dim) * config.prompt_init_std
        self.prompts = nn.Parameter(bank)
        self.scale = score_scale(config, input_len)

    def attention(self, pattern: torch.Tensor) -> torch.Tensor:
        """Eq. 5: ``[B, N, K]`` weights of the prompts for each node."""
        # pattern: [b n t d]
        return (torch.einsum("bntd,ktd->bnk", pattern, self.prompts) * self.scale).softmax(dim=-1)

    def forward(self, attention: torch.Tensor) -> torch.Tensor:
        """Eq. 6: the node prompt ``P [B, N, T, D']`` from the attention weights."""
        return torch.einsum("bnk,ktd->bntd", attention, self.prompts)


def prompt_graph(prompt: torch.Tensor) -> torch.Tensor:
    """Eq. 7: A_K(i, j) = cos(P_i, P_j), ``[B, N, N]``, symmetric with a unit diagonal."""
    flat = F.normalize(prompt.flatten(start_dim=2), dim=-1)  # [b n (t d)]
    return flat @ flat.transpose(1, 2)


class PromptGraphSupport(nn.Module):
    """A_K turned into a row-stochastic support ``S [B, N, N]`` (rows sum to 1) for the backbones.

    * ``"temperature"`` (default): ``softmax(A_K / tau)`` per row, tau learned (log-parametrised,
      starting at ``support_temperature``). A cosine lies in [-1, 1]: at tau = 1 every row is within
      a factor e^2 of uniform, at 0.1 the same cosines span e^20.
    * ``"relu_rownorm"``: ``relu(A_K)`` divided by its row sum.
    * ``"topk"``: the ``support_top_k`` largest cosines of each row, relu'd and row-normalised.
    * ``"softmax_relu"``: Graph WaveNet's ``softmax(relu(.))``; on a cosine every row stays within a
      factor e of uniform (kept to reproduce the earlier, inert behaviour).

    Why the default: on synthetic (cpu budget, TSJT(GWN), bank std 1, seeds 0 / 1) the learned
    temperature gave avg MAE 1.955 / 1.913 with a support row max x N of 4.0 / 2.6, relu_rownorm
    2.027 / 2.089 with 1.3 / 1.1 (near uniform: cosines of prompts mixed from one bank are mostly
    positive). ``"topk"`` has a row max x N of at least N/k by construction and was not measured.
    """

    def __init__(self, config: NPMConfig):
        super().__init__()
        self.kind = config.support
        self.top_k = config.support_top_k
        if self.kind == "temperature":
            self.log_temperature = nn.Parameter(torch.tensor(math.log(config.support_temperature)))

    def forward(self, graph: torch.Tensor) -> torch.Tensor:
        # graph: [b n n] -> [b n n], rows sum to 1
        if self.kind == "temperature":
            return (graph / self.log_temperature.exp()).softmax(dim=-1)
        if self.kind == "softmax_relu":
            return F.relu(graph).softmax(dim=-1)
        if self.kind == "topk":
            values, index = graph.topk(min(self.top_k, graph.shape[-1]), dim=-1)
            graph = torch.zeros_like(graph).scatter(-1, index, values)
        weights = F.relu(graph)  # the unit diagonal keeps every row sum >= 1
        return weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-12)
