"""A controlled transfer benchmark: synthetic tasks whose sources help or conflict by construction.

The TSJT paper claims that TSB keeps from the sources only what helps the target. Two tasks test
it where the truth is known; both have the default synthetic target (``synthetic-shenzhen``,
10-minute urban speeds) and three 10-minute source cities of the demo sizes:

* ``synthetic-helpful``: the sources run the target's own generating process (same spec: calendar,
  breakdown curve, propagation), on their own random graphs and random streams;
* ``synthetic-harmful``: the sources follow a conflicting process: the daily profile shifted by
  12 hours (rush hours at night, free flow by day) and congestion spreading downstream instead of
  back upstream.

All cities are synthetic (``kind="synthetic"``, names starting with ``synthetic-``).
"""
from __future__ import annotations

from dataclasses import replace

from tsjt_basicts.data.city import City
from tsjt_basicts.data.synthetic import DEFAULT_TARGET, simulate_city, synthetic_specs

TRANSFER_TASKS: tuple[str, ...] = ("synthetic-helpful", "synthetic-harmful")
SOURCE_SIZES = ((44, 14.0), (64, 14.0), (36, 21.0))  # (nodes, days) of the three sources


def transfer_benchmark_cities(task: str, seed: int = 0) -> list[City]:
    """``[target, source, source, source]`` of ``task`` (one of :data:`TRANSFER_TASKS`)."""
    if task not in TRANSFER_TASKS:
        raise ValueError(f"unknown transfer-benchmark task {task!r}; use one of {TRANSFER_TASKS}")
    target = synthetic_specs()[DEFAULT_TARGET]
    kind = task.removeprefix("synthetic-")
    conflict = {"rush_shift_hours": target.rush_shift_hours + 12.0, "spread_downstream": True}
    sources = [
        replace(target, name=f"synthetic-{kind}-source-{i + 1}", num_nodes=nodes, num_days=days,
                seed_offset=100 + i, **(conflict if kind == "harmful" else {}))
        for i, (nodes, days) in enumerate(SOURCE_SIZES)
    ]
    return [simulate_city(spec, seed) for spec in (target, *sources)]
