"""The one result-file format every method writes: ``test_metrics.json`` of a target city."""
from __future__ import annotations

import json
import os
from typing import Any

from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.metrics import MetricAccumulator

RESULT_FILE = "test_metrics.json"
WALL_TIMES = "wall_times.jsonl"  # a suite's log of seconds per run, one JSON object per line


def run_folder(root: str, method: str, backbone: str, task: str, protocol: str, seed: int) -> str:
    """Where one run of a method writes its results: ``<root>/<method>[_<backbone>]/<task>/<protocol>_seed<k>``."""
    name = method if backbone == "-" else f"{method}_{backbone}"
    return os.path.join(root, name, task, f"{protocol}_seed{seed}")


def result_record(meta: dict[str, Any], windows: CityWindows, protocol_name: str, metrics: MetricAccumulator,
                  device: str) -> dict:
    """Metrics of the target's test windows plus what produced them (method, task, seed, device, ...)."""
    city = windows.city
    return {
        **meta,
        "target": city.name,
        "data_kind": city.kind,
        "protocol": protocol_name,
        "interval_minutes": city.interval_minutes,
        "test_windows": len(windows),
        "device": device,
        "metrics": metrics.report(city.interval_minutes),
    }


def write_result(folder: str, record: dict, filename: str = RESULT_FILE) -> str:
    """Write ``record`` to ``folder/filename`` atomically; returns the path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, filename)
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        json.dump(record, f, indent=2)
    os.replace(temporary, path)
    return path
