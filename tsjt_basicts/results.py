"""The one result-file format every method writes: ``test_metrics.json`` of a target city.

A record whose metrics are not finite (the model diverged) says so in ``non_finite_metrics``
(its values are ``null``); readers skip it. A checkpoint evaluated on its own writes
``test_metrics_<checkpoint stem>_<digest of its path>.json`` (:func:`evaluation_result_file`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tsjt_basicts.atomic import write_text
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.metrics import REPORTED_STEPS, MetricAccumulator

logger = logging.getLogger(__name__)
RESULT_FILE = "test_metrics.json"
WALL_TIMES = "wall_times.jsonl"  # a suite's log of seconds per run, one JSON object per line
RECORD_KEYS = ("method", "seed", "task", "target", "data_kind", "protocol", "interval_minutes", "metrics")
TEXT, WHOLE, NUMBER = "text", "a whole number", "a number"
FIELD_KINDS = {  # what the readers (leaderboard, suite) take each field to be; optional ones may also be null
    "method": TEXT, "backbone": TEXT, "task": TEXT, "target": TEXT, "data_kind": TEXT, "protocol": TEXT,
    "seed": WHOLE, "interval_minutes": WHOLE, "target_days": NUMBER, "data_seed": WHOLE, "num_nodes": WHOLE,
}
NULLABLE = ("target_days", "data_seed")
NUMBER_TABLES = ("diagnostics", "compute")  # {name: number or null} when present


class UnusableResult(ValueError):
    """A result file that cannot be read back or holds no usable metrics; the message says why."""


def run_folder(root: str, method: str, backbone: str, task: str, protocol: str, seed: int) -> str:
    """Where one run of a method writes its results: ``<root>/<method>[_<backbone>]/<task>/<protocol>_seed<k>``."""
    name = method if backbone == "-" else f"{method}_{backbone}"
    return os.path.join(root, name, task, f"{protocol}_seed{seed}")


def config_result_path(cfg) -> Path:
    """Where a BasicTS run of config ``cfg`` writes its ``test_metrics.json``: inside its config-md5 folder."""
    return Path(cfg.ckpt_save_dir) / cfg.md5 / RESULT_FILE


def result_record(meta: dict[str, Any], windows: CityWindows, protocol_name: str, metrics: MetricAccumulator,
                  device: str) -> dict:
    """Metrics of the target's test windows plus what produced them (method, task, seed, device, ...)."""
    city = windows.city
    if metrics.scored == 0:
        raise DataError(no_test_value_message(windows))
    return {
        **meta,
        "target": city.name,
        "num_nodes": city.num_nodes,
        "data_kind": city.kind,
        "protocol": protocol_name,
        "interval_minutes": city.interval_minutes,
        "test_windows": len(windows),
        "device": device,
        "metrics": metrics.report(city.interval_minutes),
        "non_finite_metrics": metrics.non_finite(),
    }


def no_test_value_message(windows: CityWindows) -> str:
    """Why nothing could be scored: the test range of the city, in steps and days."""
    city = windows.city
    first = int(windows.starts[0]) + windows.input_len
    stop = int(windows.starts[-1]) + windows.input_len + windows.output_len
    days = f"days {first / city.steps_per_day:.2f}-{stop / city.steps_per_day:.2f}"
    return (f"city {city.name!r}: every value of its test range (steps {first}-{stop}, {days} of the series) is "
            "missing, so no metric can be scored; give the city observed data at the end of its series, or make "
            "another city the target")


def evaluation_result_file(ckpt_path: str) -> str:
    """``test_metrics_<stem>_<8 hex digits of the resolved path>.json``: one file per evaluated checkpoint."""
    resolved = str(Path(ckpt_path).resolve())
    return f"test_metrics_{Path(resolved).stem}_{hashlib.sha1(resolved.encode()).hexdigest()[:8]}.json"


def read_wall_times(path: Path) -> list[dict]:
    """The entries of a suite's ``wall_times.jsonl``, one per run (method, backbone, task, seed, budget):
    a run logged twice (re-run after its result was removed) keeps its last; lines that are not JSON
    (a run killed while logging) are skipped with a warning. None there: an empty list."""
    if not path.is_file():
        return []
    last: dict[tuple, dict] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("%s line %d is not JSON (a run killed while logging?); skipped", path, number)
            continue
        last[tuple(entry.get(key) for key in ("method", "backbone", "task", "seed", "budget"))] = entry
    return list(last.values())


def write_result(folder: str, record: dict, filename: str = RESULT_FILE) -> str:
    """Write ``record`` to ``folder/filename`` atomically; returns the path."""
    return str(write_text(Path(folder) / filename, json.dumps(record, indent=2)))


def read_result(path: str | Path) -> dict:
    """The record of result file ``path``; :class:`UnusableResult` when it is cut off, not a record,
    its metrics are not finite or negative, or a field the readers take has a value of another type."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnusableResult(f"cut off or not JSON ({error})") from error
    if not isinstance(record, dict):
        raise UnusableResult("not a result record (a JSON object)")
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise UnusableResult(f"lacks {', '.join(missing)}")
    if record.get("non_finite_metrics"):
        raise UnusableResult(f"its {', '.join(record['non_finite_metrics'])} are not finite (the model diverged)")
    if not all(is_number(value) and math.isfinite(value) for value in headline_metrics(record)):
        raise UnusableResult("its MAE / RMSE at steps 1, 3, 6 or on average is missing or not finite")
    if any(value < 0 for value in headline_metrics(record)):
        raise UnusableResult("its MAE / RMSE is negative, which an error never is")
    check_field_types(record)
    return record


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fits(value: Any, kind: str) -> bool:
    """Whether ``value`` is of ``kind`` (:data:`TEXT`, :data:`WHOLE` or :data:`NUMBER`)."""
    if kind == TEXT:
        return isinstance(value, str)
    return is_number(value) and (kind == NUMBER or isinstance(value, int))


def check_field_types(record: dict) -> None:
    """:class:`UnusableResult` naming the first field the readers take that holds a value of another type."""
    for key, kind in FIELD_KINDS.items():
        if key in record and not (fits(record[key], kind) or (key in NULLABLE and record[key] is None)):
            raise UnusableResult(f"its {key} is {record[key]!r}, not {kind}")
    for key in NUMBER_TABLES:
        table = record.get(key)
        if table is not None and not (isinstance(table, dict)
                                      and all(value is None or is_number(value) for value in table.values())):
            raise UnusableResult(f"its {key} is {table!r}, not a table of numbers")
    curve = record.get("train_curve")
    if curve is not None and not (isinstance(curve, list) and all(
            isinstance(point, list) and len(point) == 2 and all(map(is_number, point)) for point in curve)):
        raise UnusableResult("its train_curve is not a list of [step, loss] pairs")


def usable_results(paths: Iterable[Path]) -> Iterator[tuple[Path, dict]]:
    """``(path, record)`` of each usable result file of ``paths``; the others are skipped with a warning
    naming the file and the fix."""
    for path in paths:
        try:
            record = read_result(path)
        except UnusableResult as error:
            logger.warning("skipping %s: %s; delete it and rerun that run (a suite reruns runs without one)",
                           path, error)
            continue
        yield path, record


def headline_metrics(record: dict) -> list:
    """MAE and RMSE at the reported steps and on average (None where absent)."""
    metrics = record["metrics"] if isinstance(record["metrics"], dict) else {}
    at_steps = [metrics.get(step) for step in [*(f"step{step}" for step in REPORTED_STEPS), "avg"]]
    return [values.get(name) if isinstance(values, dict) else None for values in at_steps for name in ("MAE", "RMSE")]
