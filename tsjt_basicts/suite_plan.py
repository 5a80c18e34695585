"""What a suite still has to run, and about how long: ``python run.py --suite S ... --plan``.

The runs whose result file is missing are grouped per method and task; each group's time is
estimated from the same results folder's ``wall_times.jsonl`` (the last time of each run): the
median wall time of the same method, backbone, task and budget; else (marked ``~``) its time on
other tasks scaled to this task by how much longer or shorter the other methods timed on both tasks
ran here (a synthetic grid of 10 minutes says little about a real one of two hours), or unscaled
when no other method was timed on both; else unknown. Nothing is trained.
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


def timed(samples: list[dict], budget: str) -> list[dict]:
    """The samples of ``budget`` that hold a number of seconds."""
    return [s for s in samples if s.get("budget") == budget and isinstance(s.get("seconds"), (int, float))]


def median_times(samples: list[dict], budget: str) -> dict[tuple[str, str, str], float]:
    """Median seconds per (method, backbone, task) of ``budget``."""
    seconds: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for s in timed(samples, budget):
        seconds[(s.get("method"), s.get("backbone"), s.get("task"))].append(float(s["seconds"]))
    return {key: statistics.median(values) for key, values in seconds.items()}


def task_scale(times: dict[tuple[str, str, str], float], task: str, other: str, but: tuple[str, str]) -> float | None:
    """Median ratio of the time on ``task`` to the time on ``other`` of the methods (``but`` aside)
    timed on both; None when there is none."""
    ratios = [times[(m, b, task)] / seconds for (m, b, t), seconds in times.items()
              if t == other and (m, b) != but and (m, b, task) in times and seconds > 0]
    return statistics.median(ratios) if ratios else None


def estimate_seconds(samples: list[dict], entry: Entry, task: str, budget: str) -> tuple[float | None, bool]:
    """``(seconds, exact)``: the median of the same method, backbone, task and budget when measured
    (exact); else its times on other tasks, each scaled by :func:`task_scale` where it can be (the
    median of those), else the median of all its samples; else ``(None, False)``."""
    times = median_times(samples, budget)
    method = (entry.method, entry.backbone)
    if (*method, task) in times:
        return times[(*method, task)], True
    elsewhere = {t: seconds for (m, b, t), seconds in times.items() if (m, b) == method}
    scaled = [seconds * scale for other, seconds in elsewhere.items()
              if (scale := task_scale(times, task, other, method)) is not None]
    if scaled:
        return statistics.median(scaled), False
    same = [s["seconds"] for s in timed(samples, budget) if (s.get("method"), s.get("backbone")) == method]
    return (statistics.median(same), False) if same else (None, False)


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
