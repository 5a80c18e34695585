"""Target-Skewed Backward (TSB), TSJT paper Eqs. 8-10.

With g_T the target gradient and g_S the source gradient of one parameter group, split
g_S = g_ST + g_SV with g_ST = (<g_S, g_T>_F / ||g_T||_F^2) g_T the projection on g_T (Eq. 8).
The update of Eq. 10 is ``theta -= gamma1 * g_T + gamma2 * (g_SV + [<g_S, g_T>_F > 0] g_ST)``;
we return the optimizer-agnostic direction ``g_T + (gamma2 / gamma1) * (g_SV + [.] g_ST)``, so
SGD with lr gamma1 on it is Eq. 10 exactly, and any other optimizer can consume it.

The combination is computed on flat buffers with one segment-sum per reduction (no Python loop
of small kernels), and its diagnostics stay device tensors: a CUDA step never waits on the host
(the runner reads them every few steps, :class:`tsjt_basicts.runner.CombinationLog`). It is
homogeneous of degree 1 in the gradients, so combining two gradients
scaled by the same AMP GradScaler factor and unscaling afterwards is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import torch

Granularity = Literal["tensor", "module", "model"]
GAMMA1, GAMMA2 = 2e-4, 1e-6  # TSJT paper: learning rates of the target and source terms of Eq. 10


@dataclass(frozen=True)
class CombineStats:
    """Per-step diagnostics as 0-dim tensors on the gradients' device (reading them syncs):
    share of groups whose parallel part was dropped; cos(g_S, g_T)."""

    dropped_fraction: torch.Tensor
    cosine: torch.Tensor

    def as_tensor(self) -> torch.Tensor:
        """``[dropped_fraction, cosine]``, still on the device."""
        return torch.stack([self.dropped_fraction, self.cosine])


def parameter_groups(names: Sequence[str], granularity: Granularity) -> list[int]:
    """Group index of each named parameter: one per tensor (paper), per owning module, or one."""
    if granularity == "tensor":
        return list(range(len(names)))
    if granularity == "model":
        return [0] * len(names)
    if granularity == "module":
        owners = [name.rsplit(".", 1)[0] if "." in name else "" for name in names]
        index: dict[str, int] = {}
        return [index.setdefault(owner, len(index)) for owner in owners]
    raise ValueError(f"unknown TSB granularity {granularity!r}; use 'tensor', 'module' or 'model'")


def _flatten(grads: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor]) -> torch.Tensor:
    """One flat buffer; a missing gradient (parameter unused in that pass) counts as zero."""
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, like)])


def _segment_sum(values: torch.Tensor, segments: torch.Tensor, num_groups: int) -> torch.Tensor:
    return torch.zeros(num_groups, dtype=values.dtype, device=values.device).index_add_(0, segments, values)


class GradientCombiner:
    """Turns the target and source gradients of one step into one update direction.

    Subclasses write only the rule (``combine_flat``); the base owns the flattening,
    grouping and the writing back, as LibMTL's weighting classes do.
    """

    def __init__(self, source_ratio: float, groups: Sequence[int]):
        if source_ratio < 0:
            raise ValueError(f"source_ratio must be >= 0, got {source_ratio}")
        self.source_ratio = source_ratio
        self.groups = torch.as_tensor(list(groups), dtype=torch.long)
        self.num_groups = int(self.groups.max()) + 1 if len(self.groups) else 0
        self._segments: torch.Tensor | None = None  # group id of every flat gradient entry, built once

    def __call__(
        self,
        target_grads: Sequence[torch.Tensor | None],
        source_grads: Sequence[torch.Tensor | None],
        params: Sequence[torch.Tensor],
    ) -> tuple[list[torch.Tensor], CombineStats]:
        if not (len(target_grads) == len(source_grads) == len(params) == len(self.groups)):
            raise ValueError("target grads, source grads, params and groups must have one entry per parameter")
        flat_t, flat_s = _flatten(target_grads, params), _flatten(source_grads, params)
        numels = [p.numel() for p in params]
        combined, stats = self.combine_flat(flat_t, flat_s, self._segments_for(numels, flat_t))
        return [part.view_as(p) for part, p in zip(combined.split(numels), params)], stats

    def _segments_for(self, numels: list[int], flat: torch.Tensor) -> torch.Tensor:
        if self._segments is None or len(self._segments) != len(flat) or self._segments.device != flat.device:
            repeats = torch.tensor(numels, device=flat.device)
            self._segments = torch.repeat_interleave(self.groups.to(flat.device), repeats)
        return self._segments

    def combine_flat(
        self, flat_t: torch.Tensor, flat_s: torch.Tensor, segments: torch.Tensor
    ) -> tuple[torch.Tensor, CombineStats]:
        raise NotImplementedError

    def _group_products(self, flat_t, flat_s, segments):
        dot = _segment_sum(flat_t * flat_s, segments, self.num_groups)
        target_sq = _segment_sum(flat_t * flat_t, segments, self.num_groups)
        source_sq = _segment_sum(flat_s * flat_s, segments, self.num_groups)
        return dot, target_sq, source_sq

    @staticmethod
    def _cosine(dot: torch.Tensor, target_sq: torch.Tensor, source_sq: torch.Tensor) -> torch.Tensor:
        """cos(g_S, g_T) over all groups; 0 when either gradient is zero (no host sync)."""
        denominator = (target_sq.sum() * source_sq.sum()).sqrt()
        return torch.where(denominator > 0, dot.sum() / denominator.clamp_min(torch.finfo(dot.dtype).tiny), 0.0)


class TargetSkewedCombiner(GradientCombiner):
    """TSB (Eqs. 8-10): keep g_SV always, keep g_ST only where <g_S, g_T>_F > 0."""

    eps = 1e-30

    def combine_flat(self, flat_t, flat_s, segments):
        dot, target_sq, source_sq = self._group_products(flat_t, flat_s, segments)
        conflicting = dot <= 0
        projection = torch.where(conflicting, dot / target_sq.clamp_min(self.eps), torch.zeros_like(dot))
        # g_T + r * (g_S - [conflict] * g_ST) = (1 - r * [conflict] * coef) * g_T + r * g_S
        target_scale = 1.0 - self.source_ratio * projection
        combined = target_scale[segments] * flat_t + self.source_ratio * flat_s
        has_target = target_sq > 0
        dropped = (conflicting & has_target).sum() / has_target.sum().clamp_min(1)
        return combined, CombineStats(dropped, self._cosine(dot, target_sq, source_sq))


class SummedCombiner(GradientCombiner):
    """Plain joint training: g_T + r * g_S (TSJT without TSB)."""

    def combine_flat(self, flat_t, flat_s, segments):
        dot, target_sq, source_sq = self._group_products(flat_t, flat_s, segments)
        stats = CombineStats(torch.zeros((), device=flat_t.device), self._cosine(dot, target_sq, source_sq))
        return flat_t + self.source_ratio * flat_s, stats


COMBINERS: dict[str, type[GradientCombiner]] = {"tsb": TargetSkewedCombiner, "sum": SummedCombiner}


def build_combiner(
    name: str, named_params: Iterable[tuple[str, torch.Tensor]], source_ratio: float, granularity: Granularity = "tensor"
) -> GradientCombiner:
    """A combiner for the given trainable parameters (``name``: 'tsb' or 'sum')."""
    if name not in COMBINERS:
        raise ValueError(f"unknown gradient combiner {name!r}; known: {sorted(COMBINERS)}")
    names = [n for n, _ in named_params]
    return COMBINERS[name](source_ratio, parameter_groups(names, granularity))
