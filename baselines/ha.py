"""HA: the history average of the target's few-shot days, per node and time-of-day slot.

The historical-average baseline of traffic forecasting (e.g. HA in DCRNN, Li et al., ICLR 2018):
the forecast of a future step is the mean of the values observed at the same time of day.
Deviation: with a few-shot target (3 days, less than a week) the average runs over every day of
the few-shot training range, not over the same weekday of previous weeks.

* slot of step ``t`` = ``t mod steps_per_day`` (the city's own day);
* only values observed by the city's mask are averaged (NaN, and 0 where 0 means missing, are not);
* a (slot, node) with no observation falls back to the node's few-shot mean, a node with none to
  the mean of all observed few-shot values.

Deterministic; the forecast depends only on the window's output time of day, never its inputs.
"""
from __future__ import annotations

import sys

import numpy as np

from baselines.registry import register_baseline
from baselines.cli import cli_main, parser
from baselines.common import Forecast, StatisticalConfig, output_steps, run_baseline
from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.split import Protocol, StepRange
from tsjt_basicts.data.task_spec import TaskRef


def slot_means(city: City, steps: StepRange) -> np.ndarray:
    """``[steps_per_day, N]`` mean observed value per (time-of-day slot, node) over ``steps``."""
    values = city.series[steps.start : steps.stop, :, 0].astype(np.float64)
    observed = city.valid_mask()[steps.start : steps.stop]
    if not observed.any():
        raise DataError(f"city {city.name!r}: no observed value in steps {steps} to average")
    slots = np.arange(steps.start, steps.stop) % city.steps_per_day
    sums = np.zeros((city.steps_per_day, city.num_nodes))
    counts = np.zeros((city.steps_per_day, city.num_nodes))
    np.add.at(sums, slots, np.where(observed, values, 0.0))
    np.add.at(counts, slots, observed)
    node_counts = counts.sum(axis=0)
    global_mean = sums.sum() / counts.sum()
    node_means = np.where(node_counts > 0, sums.sum(axis=0) / np.maximum(node_counts, 1), global_mean)
    return np.where(counts > 0, sums / np.maximum(counts, 1), node_means)


def slot_forecast(table: np.ndarray, starts: np.ndarray, protocol: Protocol) -> np.ndarray:
    """``[B, output_len, N]``: the ``slot_means`` table read at the windows' output slots."""
    return table[output_steps(starts, protocol) % len(table)]


def fit_ha(city: City, steps: StepRange, protocol: Protocol) -> Forecast:
    """HA fitted on ``steps`` of ``city``."""
    table = slot_means(city, steps)
    return lambda starts: slot_forecast(table, starts, protocol)


@register_baseline("HA")
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    target_days: float = 3.0,
    data_seed: int = 0,
) -> dict:
    """HA on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/HA/<task>/<protocol>_seed<seed>/<digest>/``)."""
    config = StatisticalConfig(target_days, data_seed)
    return run_baseline("HA", fit_ha, task, seed, protocol, out_root, data_root, config)


def main(argv: list[str] | None = None) -> int:
    return cli_main(parser("HA"), argv, lambda args: run(
        args.task, args.seed, args.protocol, args.out_root, args.data_root, args.target_days, args.data_seed))


if __name__ == "__main__":
    sys.exit(main())
