"""A controlled transfer benchmark: synthetic tasks whose sources help or conflict by construction.

The TSJT paper claims that TSB keeps from the sources only what helps the target. These tasks test
it where the truth is known; all have the default synthetic target (``synthetic-shenzhen``,
10-minute urban speeds) and three 10-minute source cities of the demo sizes, which differ from the
target as their :class:`SourceConflict` says (:data:`CONFLICTS`, one per task):

* ``synthetic-helpful``: the sources run the target's own generating process (same spec: calendar,
  breakdown curve, propagation), on their own random graphs and random streams;
* ``synthetic-harmful``: the daily profile shifted by 12 hours (rush hours at night, free flow by
  day) and congestion spreading downstream instead of back upstream (the suite's task);
* ``synthetic-harmful-dynamics``: as harmful, and congestion six times as persistent (180 min),
  sudden breakdowns (Hill exponent 6 against 1.5) spreading with a 40-minute lag (against 10);
* ``synthetic-mirrored``: as harmful, then each source's values mirrored about their mean (a drop
  becomes a rise, as between speed and volume) and played backwards in time.
* ``synthetic-harmful-weekend``: the target's process, but weekends as congested as 1.5 weekday rushes
  (the target's: 0.35). The target's few-shot days are weekdays and most of its test range is a
  weekend, so the sources conflict exactly where they are the only information.

All cities are synthetic (``kind="synthetic"``, names starting with ``synthetic-``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tsjt_basicts.data.city import City
from tsjt_basicts.data.synthetic import (
    DEFAULT_TARGET,
    SPEED_FLOOR,
    SyntheticCitySpec,
    simulate_city,
    synthetic_specs,
)

SOURCE_SIZES = ((44, 14.0), (64, 14.0), (36, 21.0))  # (nodes, days) of the three sources


@dataclass(frozen=True)
class SourceConflict:
    """How a transfer task's sources differ from its target.

    Args: description (one line), rush_shift_hours (added to the target's rush hours),
    spread_downstream, dynamics (further spec fields set outright, e.g. ``persistence_minutes``),
    mirrored (observed values reflected about their mean, floored like the generator's speeds),
    time_reversed (the series played backwards; the calendar still runs forwards).
    """

    description: str
    rush_shift_hours: float = 0.0
    spread_downstream: bool = False
    dynamics: tuple[tuple[str, float], ...] = ()
    mirrored: bool = False
    time_reversed: bool = False

    def source_spec(
        self, target: SyntheticCitySpec, name: str, nodes: int, days: float, offset: int
    ) -> SyntheticCitySpec:
        """The spec of one source city of this conflict with ``target``."""
        return replace(target, name=name, num_nodes=nodes, num_days=days, seed_offset=offset,
                       rush_shift_hours=target.rush_shift_hours + self.rush_shift_hours,
                       spread_downstream=self.spread_downstream, **dict(self.dynamics))

    def transform(self, city: City) -> City:
        """The simulated source as this conflict presents it (mirrored, time-reversed)."""
        if not (self.mirrored or self.time_reversed):
            return city
        series = city.series.copy()
        if self.mirrored:
            values = series[..., 0]
            seen = values > 0  # synthetic speeds write 0 where a sensor failed
            level = values[seen].mean()
            values[seen] = np.maximum(2 * level - values[seen], SPEED_FLOOR * level)
        if self.time_reversed:
            series = series[::-1].copy()
        return replace(city, series=series)


_HARMFUL = dict(rush_shift_hours=12.0, spread_downstream=True)
CONFLICTS: dict[str, SourceConflict] = {
    "synthetic-helpful": SourceConflict("sources share the target's generating process"),
    "synthetic-harmful": SourceConflict("sources follow a conflicting process (calendar, spreading)", **_HARMFUL),
    "synthetic-harmful-dynamics": SourceConflict(
        "as harmful, with conflicting congestion dynamics (persistence, breakdown, lag)", **_HARMFUL,
        dynamics=(("persistence_minutes", 180.0), ("breakdown_sharpness", 6.0), ("spread_lag_minutes", 40.0)),
    ),
    "synthetic-mirrored": SourceConflict(
        "as harmful, with the sources' values mirrored and time-reversed", **_HARMFUL, mirrored=True, time_reversed=True
    ),
    "synthetic-harmful-weekend": SourceConflict(
        "the target's weekdays, weekends congested like 1.5 weekday rushes", dynamics=(("weekend_weight", 1.5),)
    ),
}
TRANSFER_TASKS: tuple[str, ...] = tuple(CONFLICTS)


def transfer_benchmark_cities(task: str, seed: int = 0) -> list[City]:
    """``[target, source, source, source]`` of ``task`` (one of :data:`TRANSFER_TASKS`)."""
    if task not in CONFLICTS:
        raise ValueError(f"unknown transfer-benchmark task {task!r}; use one of {TRANSFER_TASKS}")
    conflict, target = CONFLICTS[task], synthetic_specs()[DEFAULT_TARGET]
    kind = task.removeprefix("synthetic-")
    sources = [
        conflict.source_spec(target, f"synthetic-{kind}-source-{i + 1}", nodes, days, 100 + i)
        for i, (nodes, days) in enumerate(SOURCE_SIZES)
    ]
    return [simulate_city(target, seed)] + [conflict.transform(simulate_city(spec, seed)) for spec in sources]
