"""How much the NPM's prompts and prompt graph say, measured on a model's own inputs.

Four numbers, averaged over every window they are computed on:

* ``npm_attention_entropy_ratio``: mean over nodes of H(alpha_i) / log K (1 = uniform attention,
  every node gets the same prompt; 0 = each node takes one prompt);
* ``prompt_graph_offdiag_mean`` and ``prompt_graph_offdiag_p5``: the mean and the 5th percentile
  of the off-diagonal entries of A_K (near 1 = all prompts alike);
* ``adaptive_support_rowmax_x_n``: mean over rows of the largest weight of the support built
  from A_K, times N (1 = every row uniform; None when the backbone gets no A_K).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DIAGNOSTIC_KEYS: tuple[str, ...] = (
    "npm_attention_entropy_ratio",
    "prompt_graph_offdiag_mean",
    "prompt_graph_offdiag_p5",
    "adaptive_support_rowmax_x_n",
)
_BINS = 4000  # histogram of cosines in [-1, 1]: the 5th percentile to within 5e-4


@dataclass
class PromptInternals:
    """What the NPM computed for one batch."""

    attention: torch.Tensor  # [b n k], Eq. 5
    prompt_graph: torch.Tensor  # [b n n], Eq. 7
    support: torch.Tensor | None  # [b n n] rows sum to 1, what the backbone gets (None: 'w/o A_K')


class DiagnosticsAccumulator:
    """Sums of the four diagnostics over batches; ``report()`` gives their means."""

    def __init__(self) -> None:
        self.nodes = 0  # node rows seen (entropy, support rows)
        self.entropy = 0.0
        self.offdiag_sum = 0.0
        self.rowmax = 0.0
        self.support_rows = 0
        self.histogram = torch.zeros(_BINS, dtype=torch.float64)

    def update(self, internals: PromptInternals) -> None:
        attention = internals.attention.detach().double()
        b, n, k = attention.shape
        entropy = -(attention * attention.clamp_min(1e-30).log()).sum(-1)  # [b n]
        self.entropy += float(entropy.sum()) / math.log(k) if k > 1 else float(b * n)
        self.nodes += b * n
        graph = internals.prompt_graph.detach().double()
        offdiag = graph[:, ~torch.eye(n, dtype=torch.bool, device=graph.device)]
        self.offdiag_sum += float(offdiag.sum())
        self.histogram += torch.histc(offdiag.clamp(-1, 1).cpu(), bins=_BINS, min=-1.0, max=1.0)
        if internals.support is not None:
            self.rowmax += float(internals.support.detach().double().amax(dim=-1).sum()) * n
            self.support_rows += b * n

    def report(self) -> dict[str, float | None]:
        if self.nodes == 0:
            raise ValueError("no batch was accumulated: the diagnostics need at least one window")
        count = float(self.histogram.sum())
        return {
            "npm_attention_entropy_ratio": self.entropy / self.nodes,
            "prompt_graph_offdiag_mean": self.offdiag_sum / count if count else None,
            "prompt_graph_offdiag_p5": self._quantile(0.05) if count else None,
            "adaptive_support_rowmax_x_n": self.rowmax / self.support_rows if self.support_rows else None,
        }

    def _quantile(self, q: float) -> float:
        cumulative = self.histogram.cumsum(0) / self.histogram.sum()
        bin_index = int(torch.searchsorted(cumulative, torch.tensor(q, dtype=torch.float64)))
        return -1.0 + (bin_index + 0.5) * 2.0 / _BINS
