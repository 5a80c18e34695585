"""Which results the leaderboard compares, and which of them are one run.

Results share a table when they share a :class:`Setting` (data kind, protocol, few-shot days, data
seed, task, target). Within a table, the seeds of a method are averaged only when the runs share
their settings (:func:`run_settings`: budget, training, backbone widths, NPM options, a baseline's
config, the data's digest); a method run under several settings gets one row per settings, labelled
by what differs (:func:`variant_labels`). Two files of one run (same setting, method, backbone,
settings and seed) count once: the newer.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsjt_basicts.results import RESULT_FILE, usable_results

logger = logging.getLogger(__name__)
SETTINGS_KEYS = (  # what a record says about how it was made, besides its seed and Setting
    "budget", "training", "backbone_config", "npm_config", "num_prompts", "prompt_dim", "val_days",
    "source_allocation", "config", "data_digest",
)
SHOWN_SETTINGS = 3  # differing settings named in a row label; beyond them, the settings digest


@dataclass(frozen=True, order=True)
class Setting:
    """What results must share to be compared in one table."""

    data_kind: str
    protocol: str
    target_days: str
    data_seed: str  # "-" for real data, where it changes nothing
    task: str
    target: str
    interval_minutes: int

    @classmethod
    def of(cls, record: dict) -> "Setting":
        days = record.get("target_days")
        synthetic = record["data_kind"] == "synthetic"
        return cls(
            record["data_kind"], record["protocol"], "?" if days is None else f"{days:g}",
            str(record.get("data_seed", 0)) if synthetic else "-", record["task"], record["target"],
            int(record["interval_minutes"]),
        )

    @property
    def section(self) -> str:
        seed = f", data seed {self.data_seed}" if self.data_kind == "synthetic" else ""
        return f"{self.data_kind} data, {self.protocol} protocol, {self.target_days} few-shot days{seed}"

    def column_label(self, column: tuple[str, str]) -> str:
        metric, step = column
        return f"{metric} avg" if step == "avg" else f"{metric} {int(step[4:]) * self.interval_minutes} min"


def run_settings(record: dict) -> dict:
    """The settings that made ``record`` (its seed aside); a grid's chosen run stands for its whole grid."""
    settings = {key: record[key] for key in SETTINGS_KEYS if key in record}
    grid = record.get("source_ratio_grid")
    if isinstance(grid, dict) and isinstance(settings.get("training"), dict):
        settings["training"] = {**settings["training"], "source_ratio": f"grid {grid.get('ratios')}"}
    return settings


def settings_digest(record: dict) -> str:
    """8 hex digits of :func:`run_settings`: equal settings, equal digest."""
    return hashlib.md5(json.dumps(run_settings(record), sort_keys=True, default=str).encode()).hexdigest()[:8]


RunKey = tuple[Setting, str, str, str]  # setting, method, backbone, settings digest


def run_key(record: dict) -> RunKey:
    """The row a record belongs to."""
    return Setting.of(record), record["method"], record.get("backbone", "-"), settings_digest(record)


def collect(root: Path) -> list[dict]:
    """Every usable record under ``root``; of two files of one run (setting, method, backbone, settings,
    seed) the newer wins."""
    latest: dict[tuple, tuple[dict, Path]] = {}
    for path, record in usable_results(sorted(root.rglob(RESULT_FILE), key=lambda p: p.stat().st_mtime)):
        if record.get("grid_candidate"):  # one run of a source-ratio grid; the grid's choice is its own file
            continue
        key = (*run_key(record), record["seed"])
        if key in latest:
            logger.warning("%s and %s hold the same run; keeping the newer %s", latest[key][1], path, path)
        latest[key] = (record, path)
    return [record for record, _ in latest.values()]


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested settings as ``{"budget.steps": "6", ...}``."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(item, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): json.dumps(value, default=str).strip('"')}


def variant_labels(groups: dict[RunKey, list[dict]]) -> dict[RunKey, str]:
    """A label per row telling apart the settings of one method: the settings that differ between two
    rows of that method in one table (e.g. ``budget.steps=600``); "" for a method of one settings."""
    flat = {key: flatten(run_settings(runs[0])) for key, runs in groups.items()}
    tables: dict[tuple[Setting, str, str], list[dict[str, str]]] = defaultdict(list)
    for key in groups:
        tables[key[:3]].append(flat[key])
    differing: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (_, method, backbone), variants in tables.items():
        names = set().union(*variants)
        differing[(method, backbone)] |= {n for n in names if len({v.get(n, "-") for v in variants}) > 1}
    labels = {}
    for key in groups:
        names = sorted(differing[key[1:3]])
        shown = [f"{name}={flat[key].get(name, '-')}" for name in names[:SHOWN_SETTINGS]]
        labels[key] = ", ".join(shown + ([f"settings {key[3]}"] if len(names) > SHOWN_SETTINGS else []))
    return labels
