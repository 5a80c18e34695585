"""AdaRNN's temporal distribution characterisation (TDC) and the domains it gives.

TDC cuts a series into ``periods`` contiguous periods whose distributions differ most: the
candidate cut points are the ``candidates - 1`` inner points of an even grid over the series;
starting from the two ends, the candidate whose addition maximises the summed pairwise distance
of the resulting periods is added, greedily, until there are ``periods`` periods.

Domains of the cross-city adaptation (:func:`transfer_domains`): each source city's training range
is cut by TDC into ``periods`` periods, a period being the source windows lying wholly inside it;
the distribution of a step is the vector of the city's z-scored values at its nodes (0 where
unobserved). The target's few-shot training windows form one more domain, not cut (a few days).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

from baselines.adarnn.tdm import Distance
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.windows import CityWindows


@dataclass
class Domain:
    """One domain of TDM: the windows ``positions`` of one city's windows."""

    name: str
    windows: CityWindows
    positions: np.ndarray


def periods_spread(series: torch.Tensor, bounds: list[int], distance: Distance) -> float:
    """Summed distance over every pair of the periods ``series[bounds[i]:bounds[i + 1]]``."""
    parts = [series[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]
    return float(sum(distance(a, b) for a, b in combinations(parts, 2)))


def split_periods(series: torch.Tensor, periods: int, candidates: int, distance: Distance) -> list[int]:
    """Step bounds ``[0, ..., T]`` of the ``periods`` TDC periods of ``series`` ``[T, D]``."""
    if not 1 <= periods <= candidates:
        raise ValueError(f"periods ({periods}) must lie in 1..candidates ({candidates})")
    grid = [round(i * len(series) / candidates) for i in range(candidates + 1)]
    chosen = [0, candidates]
    while len(chosen) < periods + 1:
        free = [c for c in range(1, candidates) if c not in chosen]
        best = max(free, key=lambda c: periods_spread(series, [grid[i] for i in sorted([*chosen, c])], distance))
        chosen = sorted([*chosen, best])
    return [grid[i] for i in chosen]


def source_domains(windows: CityWindows, periods: int, candidates: int, distance: Distance) -> list[Domain]:
    """The TDC periods of one source city's training range, each as the windows lying inside it."""
    steps, name = windows.train_steps, windows.city.name
    series = windows.features[steps.start : steps.stop, :, 0].cpu()  # [T, N] z-scored values
    bounds = [steps.start + b for b in split_periods(series, periods, candidates, distance)]
    window_len = windows.input_len + windows.output_len
    domains = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        inside = np.flatnonzero((windows.starts >= start) & (windows.starts + window_len <= stop))
        if len(inside) == 0:
            raise DataError(f"source {name!r}: TDC period steps {start}-{stop} holds no window of {window_len} "
                            f"steps; lower tdc_candidates")
        domains.append(Domain(f"{name}[{start}:{stop}]", windows, inside))
    return domains


def transfer_domains(sources: list[CityWindows], target: CityWindows, periods: int, candidates: int,
                     distance: Distance) -> list[Domain]:
    """Every source city's TDC periods, then the target's few-shot training windows."""
    domains = [d for windows in sources for d in source_domains(windows, periods, candidates, distance)]
    return [*domains, Domain(target.city.name, target, np.arange(len(target)))]
