"""The shared few-shot protocol: the one source of truth for every method's split.

Target city: the few-shot training data are its first ``target_days`` days (counted with the
city's own steps per day), the test data its last ``test_fraction`` of steps; an optional
validation part is carved out of the end of the few-shot window. Source cities: their whole
series. Every window (``input_len`` in, ``output_len`` out) lies inside one range.

``protocol="stgfsl"`` reproduces the ST-GFSL / TSJT-paper conventions instead (few-shot window of
``288 x target_days`` steps whatever the interval, normalisation fitted on the whole series) so
that results can be set beside the published ones; every result records its protocol.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tsjt_basicts.data.city import City, DataError

ProtocolName = Literal["strict", "stgfsl"]
STGFSL_STEPS_PER_DAY = 288  # ST-GFSL counts 288 steps a day even for 10-minute cities.
# The model-selection rule of every trained method: the last half day of the few-shot window is
# held out, and the checkpoint / step of lowest MAE on it is the one tested.
VAL_DAYS = 0.5


@dataclass(frozen=True)
class Protocol:
    """Settings of the shared few-shot protocol (defaults: the TSJT paper's task)."""

    name: ProtocolName = "strict"
    target_days: float = 3.0
    val_days: float = 0.0
    test_fraction: float = 0.2
    input_len: int = 12
    output_len: int = 6

    def __post_init__(self) -> None:
        if self.name not in ("strict", "stgfsl"):
            raise DataError(f"unknown protocol {self.name!r}; use 'strict' (leak-free) or 'stgfsl' (paper-compatible)")
        if not 0 < self.test_fraction < 1:
            raise DataError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")
        if not 0 <= self.val_days < self.target_days:
            raise DataError(f"val_days ({self.val_days}) must be >= 0 and below target_days ({self.target_days})")

    @property
    def window_len(self) -> int:
        return self.input_len + self.output_len


@dataclass(frozen=True)
class StepRange:
    """Half-open range ``[start, stop)`` of time steps."""

    start: int
    stop: int

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __str__(self) -> str:
        return f"steps {self.start}-{self.stop}"


@dataclass(frozen=True)
class CitySplit:
    """Step ranges of one city: what trains, validates, tests, and fits the scaler."""

    train: StepRange
    val: StepRange | None
    test: StepRange | None
    scaler_fit: StepRange


def few_shot_steps(city: City, protocol: Protocol, days: float) -> int:
    """Steps in ``days`` days under the protocol's day convention."""
    per_day = STGFSL_STEPS_PER_DAY if protocol.name == "stgfsl" else city.steps_per_day
    return int(round(days * per_day))


SHORT_RANGE_FIX = {
    "few-shot training": "use more target_days (or fewer val_days) or a longer series, or use this city as a source only",
    "validation": "use more val_days, or val_days=0",
    "test": "use a longer series (the test range is its last test_fraction), or use this city as a source only",
}


def split_target(city: City, protocol: Protocol) -> CitySplit:
    """Few-shot train / optional validation / test ranges of the target city."""
    few_shot = few_shot_steps(city, protocol, protocol.target_days)
    val = few_shot_steps(city, protocol, protocol.val_days)
    test_start = city.num_steps - int(round(protocol.test_fraction * city.num_steps))
    if few_shot > test_start:
        raise DataError(
            f"target {city.name!r}: its few-shot window ({few_shot} steps = {protocol.target_days:g} days) overlaps "
            f"the test range (the last {protocol.test_fraction:.0%}, from step {test_start} of {city.num_steps}); "
            "use fewer target_days or a longer series, or use this city as a source only"
        )
    train = StepRange(0, few_shot - val)
    split = CitySplit(
        train=train,
        val=StepRange(few_shot - val, few_shot) if val else None,
        test=StepRange(test_start, city.num_steps),
        scaler_fit=train if protocol.name == "strict" else StepRange(0, city.num_steps),
    )
    for label, part in (("few-shot training", split.train), ("validation", split.val), ("test", split.test)):
        if part is not None and len(part) < protocol.window_len:
            raise DataError(
                f"target {city.name!r}: its {label} range ({part}) is shorter than one window "
                f"({protocol.window_len} steps = input_len + output_len); {SHORT_RANGE_FIX[label]}"
            )
    return split


def split_source(city: City) -> CitySplit:
    """A source city trains on, and is normalised by, its whole series."""
    whole = StepRange(0, city.num_steps)
    return CitySplit(train=whole, val=None, test=None, scaler_fit=whole)


def window_starts(steps: StepRange, window_len: int) -> np.ndarray:
    """Start indices of every window of ``window_len`` steps lying inside ``steps``."""
    return np.arange(steps.start, steps.stop - window_len + 1, dtype=np.int64)


def check_sources(target: City, sources: list[City]) -> None:
    """Refuse a source pool that holds the target's data (same city, the same sensors, or a copy)."""
    for source in sources:
        if source.name == target.name or target.name in source.same_sensors_as or source.name in target.same_sensors_as:
            raise DataError(
                f"source {source.name!r} holds data of target {target.name!r}; remove it from the sources"
            )
    target_columns = column_digests(target)
    for source in sources:
        if target_columns & column_digests(source):
            raise DataError(
                f"source {source.name!r} holds series identical to target {target.name!r} (one is a copy of the "
                "other, perhaps under another name); remove it from the sources"
            )


def column_digests(city: City) -> set[bytes]:
    """Digests of the city's informative node series (channel 0; constant or empty columns skipped)."""
    values = np.nan_to_num(city.series[..., 0], nan=np.float32(-0.0))
    informative = values.max(axis=0) > values.min(axis=0)
    return {
        hashlib.blake2b(np.ascontiguousarray(values[:, node]).tobytes(), digest_size=16).digest()
        for node in np.flatnonzero(informative)
    }


def check_observed(city: City, steps: StepRange, part: str, fix: str) -> None:
    """Refuse a range of ``city`` that holds no observed value (it could neither train nor score)."""
    if not city.valid_mask()[steps.start : steps.stop].any():
        raise DataError(f"city {city.name!r}: its {part} range ({steps}) holds no observed value; {fix}")


def forecast_steps(steps: StepRange, protocol: Protocol) -> StepRange:
    """The steps of ``steps`` that its windows forecast (and score): all but the first input."""
    return StepRange(steps.start + protocol.input_len, steps.stop)


def check_task_protocol(target: City, sources: list[City], protocol: Protocol) -> None:
    """Before any work: the target splits under ``protocol`` and every range the run reads has data
    where its windows are scored."""
    split = split_target(target, protocol)
    fix = "check the series (NaN or, for speed data, 0 marks missing) or change target_days"
    check_observed(target, forecast_steps(split.train, protocol), "few-shot training", fix)
    if split.val is not None:
        check_observed(target, forecast_steps(split.val, protocol), "validation", "set val_days=0 or " + fix)
    check_observed(target, forecast_steps(split.test, protocol), "test",
                   "a test range without data cannot be scored; " + fix)
    for source in sources:
        if source.num_steps < protocol.window_len:
            raise DataError(f"source {source.name!r} has {source.num_steps} steps, fewer than one window "
                            f"({protocol.window_len}); remove it from the sources or give it a longer series")
        check_observed(source, forecast_steps(StepRange(0, source.num_steps), protocol), "whole",
                       "remove it from the sources")
