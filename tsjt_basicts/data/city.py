"""The one object the rest of the code reads: a city's series, graph and calendar."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tsjt_basicts.errors import UserError

DataKind = Literal["real", "synthetic"]
GraphSource = Literal["given", "gaussian-kernel", "correlation", "synthetic"]

# Largest magnitude a value may have. Squares of 1e15 (1e30) and sums of up to 1e8 of them (1e38)
# stay below float32's 3.4e38, so losses, RMSE and scalers stay finite; a real traffic quantity
# (speed, count, volume) is many orders of magnitude smaller, so a larger value is a unit or
# missing-value mark gone wrong (1e30, -9.9e30 fill values).
MAX_ABS_VALUE = 1e15
MINUTES_PER_DAY = 24 * 60


class DataError(UserError):
    """Bad input data: the message names the problem and how to fix it."""


@dataclass(frozen=True, eq=False)
class City:
    """A city's multivariate traffic series and road graph.

    Attributes:
        name: unique name, e.g. ``"METR-LA"`` or ``"synthetic-la"``.
        series: ``[T, N, C]`` float32; channel 0 is the forecast quantity, NaN marks missing.
        adjacency: ``[N, N]`` non-negative float32 weights (row i -> column j).
        interval_minutes: minutes between two steps (5, 10, 15, 60 ...).
        steps_per_day: steps in one (service) day with this city's own interval.
        zero_is_missing: True for the paper's speed data, where 0 means a failed sensor; False for
            counts (metro, bus, volume), where 0 is a real value that must be scored.
        locations: optional ``[N, 2]`` sensor coordinates (lat, lon).
        graph_source: how ``adjacency`` was made ("given", "gaussian-kernel", "correlation", ...).
        kind: "real" or "synthetic": every reported result carries it.
        start_day_of_week: weekday (0 = Monday) of step 0, when the start date is known; None
            leaves the day-of-week feature at 0 (no weekday is invented).
        start_step_of_day: the step of the day at which step 0 lies (0 = the day's first step),
            from the series' start time.
        same_sensors_as: names of other datasets that contain this city's sensors (e.g. the
            Los Angeles week is part of METR-LA): such a city may never be the other's source.
    """

    name: str
    series: np.ndarray
    adjacency: np.ndarray
    interval_minutes: int
    steps_per_day: int
    zero_is_missing: bool = False
    locations: np.ndarray | None = None
    graph_source: GraphSource = "given"
    kind: DataKind = "real"
    start_day_of_week: int | None = None
    start_step_of_day: int = 0
    same_sensors_as: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        series = real_numbers(self.series, self.name, "values")
        if series.ndim == 2:
            series = series[:, :, None]
        if series.ndim != 3:
            raise DataError(f"city {self.name!r}: series must be [T, N] or [T, N, C], got shape {series.shape}")
        refuse_implausible_values(series, self.name)
        series = series.astype(np.float32)
        object.__setattr__(self, "series", series)
        object.__setattr__(self, "adjacency", check_adjacency(self.adjacency, series.shape[1], self.name))
        if self.steps_per_day <= 0 or self.interval_minutes <= 0:
            raise DataError(f"city {self.name!r}: steps_per_day and interval_minutes must be positive")
        if MINUTES_PER_DAY % self.interval_minutes:
            raise DataError(
                f"city {self.name!r}: an interval of {self.interval_minutes} minutes does not divide a day (1440 "
                "minutes); resample the series to 5, 10, 15, 30, 60 ... minutes"
            )
        if self.steps_per_day * self.interval_minutes > MINUTES_PER_DAY:
            raise DataError(
                f"city {self.name!r}: {self.steps_per_day} steps of {self.interval_minutes} minutes make a day "
                f"longer than 24 h; steps_per_day is at most {MINUTES_PER_DAY // self.interval_minutes} "
                "(fewer for a service day)"
            )
        if self.locations is not None and np.shape(self.locations) != (series.shape[1], 2):
            raise DataError(
                f"city {self.name!r}: locations must be [N, 2] = [{series.shape[1]}, 2], got {np.shape(self.locations)}"
            )
        if not 0 <= self.start_step_of_day < self.steps_per_day:
            raise DataError(
                f"city {self.name!r}: start_step_of_day must be in [0, {self.steps_per_day}), "
                f"got {self.start_step_of_day}"
            )
        if not 0 <= (self.start_day_of_week or 0) <= 6:
            raise DataError(
                f"city {self.name!r}: start_day_of_week must be 0 (Monday) .. 6 or unknown, "
                f"got {self.start_day_of_week}"
            )

    @property
    def num_steps(self) -> int:
        return self.series.shape[0]

    @property
    def num_nodes(self) -> int:
        return self.series.shape[1]

    @property
    def num_days(self) -> float:
        return self.num_steps / self.steps_per_day

    def valid_mask(self) -> np.ndarray:
        """``[T, N]`` True where channel 0 holds an observed value (the city's own convention)."""
        values = self.series[..., 0]
        mask = ~np.isnan(values)
        if self.zero_is_missing:
            mask &= values != 0
        return mask

    def series_summary(self) -> str:
        return (
            f"{self.name} ({self.kind}): {self.num_nodes} nodes, {self.num_steps} steps of "
            f"{self.interval_minutes} min ({self.num_days:.1f} days)"
        )

    def graph_summary(self) -> str:
        return f"graph {self.graph_source} with {int((self.adjacency > 0).sum())} edges"

    def summary(self) -> str:
        return f"{self.series_summary()}, {self.graph_summary()}"


NUMBER_KINDS = "iuf"  # numpy dtype kinds of real numbers: signed, unsigned integers and floats
OTHER_KINDS = {"b": "booleans", "c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects"}


def real_numbers(values: object, city_name: str, what: str, kinds: str = NUMBER_KINDS) -> np.ndarray:
    """``values`` as an array, refused unless its dtype is of ``kinds`` (real numbers)."""
    array = np.asarray(values)
    if array.dtype.kind not in kinds:
        found = OTHER_KINDS.get(array.dtype.kind, str(array.dtype))
        raise DataError(
            f"city {city_name!r}: the {what} are {found} ({array.dtype}); store real numbers (int or float, "
            "NaN = missing), e.g. numpy.asarray(values, dtype=numpy.float32)"
        )
    return array


def refuse_implausible_values(series: np.ndarray, city_name: str) -> None:
    """Refuse inf and values beyond :data:`MAX_ABS_VALUE`, naming the count and the first (step, node)."""
    implausible = implausible_mask(series)
    if implausible.any():
        step, node, channel = np.argwhere(implausible)[0]
        raise DataError(
            f"city {city_name!r}: {int(implausible.sum())} value(s) are inf or beyond +-{MAX_ABS_VALUE:.0e}, "
            f"the first {float(series[step, node, channel]):g} at step {step}, node {node}; mark missing values "
            "with NaN (not a huge fill value) and check the units"
        )


def implausible_mask(values: np.ndarray) -> np.ndarray:
    """True where ``values`` are inf or beyond :data:`MAX_ABS_VALUE` (NaN is not), in any real dtype."""
    if values.dtype.kind == "f" and float(np.finfo(values.dtype).max) < MAX_ABS_VALUE:  # float16: only inf
        return np.isinf(values)
    if values.dtype.kind in "iu":  # abs() of the most negative integer overflows
        values = values.astype(np.float64)
    return np.abs(values) > MAX_ABS_VALUE


def check_adjacency(adjacency: np.ndarray, num_nodes: int, city_name: str = "?") -> np.ndarray:
    """Return ``adjacency`` as float32 after checking shape, finiteness, size and sign."""
    adj = real_numbers(adjacency, city_name, "graph weights", NUMBER_KINDS + "b").astype(np.float64)
    if adj.shape != (num_nodes, num_nodes):
        raise DataError(
            f"city {city_name!r}: graph is {adj.shape} but the series has {num_nodes} nodes; "
            "pass the graph that belongs to these sensors (same order), or none to build one"
        )
    if not np.isfinite(adj).all():
        raise DataError(f"city {city_name!r}: graph holds NaN/inf weights; replace them by 0 (no edge)")
    if (np.abs(adj) > MAX_ABS_VALUE).any():
        raise DataError(
            f"city {city_name!r}: graph holds weights beyond {MAX_ABS_VALUE:.0e} (largest {np.abs(adj).max():g}); "
            "give weights on a plain scale, e.g. 1 per link or a kernel of distances in [0, 1]"
        )
    if (adj < 0).any():
        raise DataError(f"city {city_name!r}: graph holds negative weights; edge weights must be >= 0")
    return adj.astype(np.float32)
