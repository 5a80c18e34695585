"""Windows of one city and the multi-city batches of joint training.

Model inputs follow BasicTS: ``[B, input_len, N, C]`` with C = 3 channels (z-scored value,
time of day in [0, 1), day of week / 7). Missing inputs are set to 0 (the mean, once z-scored).
Targets stay in the city's own units; the mask marks observed values by the city's convention.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import torch

from tsjt_basicts.backbones.layers.graph import CityGraph, NodeHistory, graph_for
from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.scaler import ZScore
from tsjt_basicts.data.split import CitySplit, Protocol, StepRange, window_starts

NUM_INPUT_FEATURES = 3
SourceAllocation = Literal["uniform", "size"]
WEEKEND = (5, 6)  # Saturday, Sunday (0 = Monday)


@dataclass
class Batch:
    """One city's sub-batch. inputs: [B, L, N, 3]; targets, mask: [B, H, N]."""

    city: str
    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor


@dataclass
class JointBatch:
    """One TSJT step: the target sub-batch and one sub-batch per source city."""

    target: Batch
    sources: list[Batch]


def time_features(city: City) -> np.ndarray:
    """``[T, 2]`` time of day in [0, 1) and day of week / 7 of every step, from the city's start.

    The day of week is 0 throughout when the start date is unknown: no weekday is invented.
    """
    steps = np.arange(city.num_steps) + city.start_step_of_day
    time_of_day = (steps % city.steps_per_day) / city.steps_per_day
    if city.start_day_of_week is None:
        day_of_week = np.zeros(city.num_steps)
    else:
        day_of_week = ((steps // city.steps_per_day + city.start_day_of_week) % 7) / 7.0
    return np.stack([time_of_day, day_of_week], axis=1).astype(np.float32)


def day_types(city: City, steps: np.ndarray) -> np.ndarray | None:
    """``"weekday"`` or ``"weekend"`` for each of ``steps``; None when the city's start date is unknown."""
    if city.start_day_of_week is None:
        return None
    weekday = ((np.asarray(steps) + city.start_step_of_day) // city.steps_per_day + city.start_day_of_week) % 7
    return np.where(np.isin(weekday, WEEKEND), "weekend", "weekday")


def node_history(city: City, steps: StepRange) -> NodeHistory:
    """The city's observed values over ``steps`` (NaN where unobserved), for graphs learned from data."""
    values = np.where(city.valid_mask(), city.series[..., 0], np.nan)[steps.start : steps.stop]
    return NodeHistory(values, city.steps_per_day, (city.start_step_of_day + steps.start) % city.steps_per_day)


class CityWindows:
    """All windows of one city that start inside one step range, ready to batch.

    ``train_steps`` is the city's training range under the split (default: ``steps``): the only
    steps its graph's :class:`NodeHistory` holds, whichever part these windows are.
    """

    def __init__(self, city: City, scaler: ZScore, steps: StepRange, protocol: Protocol,
                 train_steps: StepRange | None = None):
        self.city = city
        self.train_steps = train_steps or steps
        self.scaler = scaler
        self.input_len = protocol.input_len
        self.output_len = protocol.output_len
        self.starts = window_starts(steps, protocol.window_len)
        if len(self.starts) == 0:
            raise DataError(f"city {city.name!r}: range {steps} holds no window of {protocol.window_len} steps")
        observed = city.valid_mask()
        values = np.where(observed, scaler.transform(city.series[..., 0]), 0.0)
        calendar = np.broadcast_to(time_features(city)[:, None, :], (city.num_steps, city.num_nodes, 2))
        self.features = torch.from_numpy(np.concatenate([values[..., None], calendar], axis=2).astype(np.float32))
        self.targets = torch.from_numpy(np.nan_to_num(city.series[..., 0], nan=0.0).astype(np.float32))
        self.mask = torch.from_numpy(observed)

    def __len__(self) -> int:
        return len(self.starts)

    @cached_property
    def graph(self) -> CityGraph:
        """The city's cached graph, carrying its training-range history (:func:`node_history`)."""
        return graph_for(self.city.adjacency, self.city.name, history=node_history(self.city, self.train_steps))

    def to(self, device: torch.device | str) -> "CityWindows":
        """Move the series tensors to ``device`` (batches are then cut there); returns ``self``."""
        self.features, self.targets, self.mask = (t.to(device) for t in (self.features, self.targets, self.mask))
        return self

    def batch(self, positions: np.ndarray) -> Batch:
        """Windows number ``positions`` (indices into ``self.starts``) as one batch."""
        starts = torch.from_numpy(self.starts[positions])
        past = starts[:, None] + torch.arange(self.input_len)
        future = starts[:, None] + self.input_len + torch.arange(self.output_len)
        return Batch(self.city.name, self.features[past], self.targets[future], self.mask[future])

    def day_types(self, positions: np.ndarray) -> np.ndarray | None:
        """The day type of each window's first forecast step (:func:`day_types`); None without a calendar."""
        return day_types(self.city, self.starts[positions] + self.input_len)


def city_windows(city: City, split: CitySplit, part: Literal["train", "val", "test"], protocol: Protocol) -> CityWindows:
    """Windows of one part of a split, normalised with the split's scaler range."""
    steps = getattr(split, part)
    if steps is None:
        raise DataError(f"city {city.name!r} has no {part} range under this protocol (set val_days for validation)")
    return CityWindows(city, ZScore.fit(city, split.scaler_fit), steps, protocol, split.train)


def allocate_source_batch(source_batch: int, sizes: list[int], allocation: SourceAllocation) -> list[int]:
    """Split ``source_batch`` samples over source cities: evenly, or in proportion to their windows."""
    if source_batch < len(sizes):
        raise DataError(f"source_batch ({source_batch}) must give every one of the {len(sizes)} sources a sample")
    if allocation == "uniform":
        weights = np.ones(len(sizes))
    elif allocation == "size":
        weights = np.asarray(sizes, dtype=np.float64)
    else:
        raise DataError(f"unknown source allocation {allocation!r}; use 'uniform' or 'size'")
    spare = source_batch - len(sizes)  # every source gets one sample, the rest by largest remainder
    exact = spare * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact)[: spare - counts.sum()]] += 1
    return [int(c) + 1 for c in counts]


class JointSteps:
    """Training steps of joint training: per step ``target_batch`` target windows and
    ``source_batch`` source windows split over the source cities (paper: 4 + 124).

    Map-style, so a DataLoader (and DDP's DistributedSampler) can shuffle and shard the steps.
    An epoch is ``steps_per_epoch`` steps (default: one pass over the target's few-shot windows),
    so a budget counts optimizer steps whatever the city's interval. The target windows form one
    stream of passes, each a fresh permutation seeded with ``(seed, pass)`` (the same in every
    process and on resume): step ``g`` of the run takes windows ``g * target_batch`` onwards, so
    every window is seen equally often. Each source city is drawn from its own reshuffled stream,
    seeded with ``(seed, rank, epoch)``: DDP processes draw different source windows, and a resumed
    run draws what the uninterrupted one did.
    """

    def __init__(
        self,
        target: CityWindows,
        sources: list[CityWindows],
        target_batch: int = 4,
        source_batch: int = 124,
        allocation: SourceAllocation = "uniform",
        seed: int = 0,
        rank: int = 0,
        steps_per_epoch: int | None = None,
    ):
        if target_batch < 1 or (steps_per_epoch is not None and steps_per_epoch < 1):
            raise DataError(f"target_batch ({target_batch}) and steps_per_epoch ({steps_per_epoch}) must be >= 1")
        self.target = target
        self.sources = sources
        self.target_batch = target_batch
        self.steps_per_epoch = steps_per_epoch or -(-len(target) // target_batch)
        self.source_sizes = allocate_source_batch(source_batch, [len(s) for s in sources], allocation) if sources else []
        self.seed, self.rank = seed, rank
        self._passes: dict[int, np.ndarray] = {}
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Steps of ``epoch`` continue the target stream where epoch ``epoch - 1`` ended; the source
        streams start afresh from ``(seed, rank, epoch)``."""
        self.epoch = epoch
        self.source_rng = np.random.default_rng([self.seed, self.rank, epoch])
        self._streams = [np.empty(0, dtype=np.int64) for _ in self.sources]

    def __len__(self) -> int:
        return self.steps_per_epoch

    def _draw(self, source: int, count: int) -> np.ndarray:
        while len(self._streams[source]) < count:
            fresh = self.source_rng.permutation(len(self.sources[source]))
            self._streams[source] = np.concatenate([self._streams[source], fresh])
        drawn, self._streams[source] = self._streams[source][:count], self._streams[source][count:]
        return drawn

    def _target_pass(self, index: int) -> np.ndarray:
        """Permutation number ``index`` of the target's windows."""
        if index not in self._passes:
            if len(self._passes) > 8:
                self._passes.clear()
            self._passes[index] = np.random.default_rng([self.seed, index]).permutation(len(self.target))
        return self._passes[index]

    def target_positions(self, step: int) -> np.ndarray:
        """Indices (into ``target.starts``) of the target windows of ``step`` this epoch."""
        if not 0 <= step < len(self):
            raise IndexError(f"step {step} out of range for {len(self)} steps")
        first = (self.epoch * len(self) + step) * self.target_batch
        stream = np.arange(first, first + self.target_batch)
        passes = stream // len(self.target)
        parts = [self._target_pass(int(p))[stream[passes == p] % len(self.target)] for p in np.unique(passes)]
        return np.concatenate(parts)

    def __getitem__(self, step: int) -> JointBatch:
        target = self.target.batch(self.target_positions(step))
        sources = [s.batch(self._draw(i, n)) for i, (s, n) in enumerate(zip(self.sources, self.source_sizes))]
        return JointBatch(target, sources)
