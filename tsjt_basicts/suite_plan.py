"""What a suite still has to run, and about how long: ``python run.py --suite S ... --plan``.

The runs whose result file is missing are grouped per method and task; each group's time is
estimated from the same results folder's ``wall_times.jsonl`` (the last time of each run): the
median wall time of the same method, backbone, task and budget, else of the same method, backbone
and budget on any task (marked ``~``), else unknown. Nothing is trained.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from tsjt_basicts.data.task_spec import Task
from tsjt_basicts.results import WALL_TIMES, read_wall_times
from tsjt_basicts.suite import Entry, result_path

Run = tuple[Entry, Task, int]


def missing_runs(runs: list[Run], budget: str, out_root: str, gpus: str | None = None) -> list[Run]:
    """The runs of ``runs`` whose result file does not exist under ``out_root``."""
    return [(entry, task, seed) for entry, task, seed in runs
            if not result_path(entry, task, seed, budget, out_root, gpus).is_file()]


def estimate_seconds(samples: list[dict], entry: Entry, task: str, budget: str) -> tuple[float | None, bool]:
    """``(median seconds, exact)``: of the same method, backbone, task and budget when measured
    (exact), else of the same method, backbone and budget on other tasks, else ``(None, False)``."""
    same = [s for s in samples if (s.get("method"), s.get("backbone"), s.get("budget"))
            == (entry.method, entry.backbone, budget)]
    here = [s["seconds"] for s in same if s.get("task") == task]
    if here:
        return statistics.median(here), True
    if same:
        return statistics.median(s["seconds"] for s in same), False
    return None, False


def render_plan(missing: list[Run], total: int, budget: str, out_root: str, jobs: int = 1) -> list[str]:
    """Markdown lines: the missing runs per method and task, their estimated time, and the total."""
    samples = read_wall_times(Path(out_root) / WALL_TIMES)
    groups: dict[tuple[Entry, str], list[int]] = defaultdict(list)
    for entry, task, seed in missing:
        groups[(entry, task.name)].append(seed)
    lines = [f"{len(missing)} of the {total} runs have no result under {out_root} (budget {budget}).", "",
             "| method | task | seeds to run | each (min) | group (min) |", "|---|---|---|---:|---:|"]
    known_seconds, unknown = 0.0, 0
    for (entry, task), seeds in groups.items():
        seconds, exact = estimate_seconds(samples, entry, task, budget)
        if seconds is None:
            unknown += len(seeds)
            each = group = "?"
        else:
            known_seconds += seconds * len(seeds)
            mark = "" if exact else "~"
            each, group = f"{mark}{seconds / 60:.1f}", f"{mark}{seconds * len(seeds) / 60:.1f}"
        lines.append(f"| {entry.folder} | {task} | {', '.join(map(str, seeds))} | {each} | {group} |")
    hours = known_seconds / 3600
    lines += ["", f"Estimated: {hours:.1f} h of run time for the runs measured before here, about "
              f"{hours / max(jobs, 1):.1f} h with --jobs {jobs} (as measured; parallel runs share the machine), "
              f"plus {unknown} run(s) never timed here (`?`)."]
    return lines
