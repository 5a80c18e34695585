"""The comparison suite: every method x target city x seed under one budget, then the leaderboard.

    python run.py --suite table2 --seeds 3 --budget cpu          # real small tasks + synthetic
    python run.py --suite table2 --budget smoke --tasks synthetic # minutes on a CPU
    python run.py --suite table2-paper --gpus 0 --budget paper    # the paper's four cities
    python run.py --suite npm --seeds 3 --budget cpu --jobs 2     # NPM ablations, 2 runs at a time
    python run.py --suite transfer --seeds 3 --budget cpu         # sources that help / conflict (synthetic)

A run whose ``test_metrics.json`` already exists is skipped, so an interrupted suite resumes.
Budgets are named once here for the baselines and in :data:`tsjt_basicts.config.BUDGETS` for the
gradient-trained methods; every method of a suite runs under the same named budget.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from baselines.registry import baseline
from tsjt_basicts.analyses.sources import source_subsets
from tsjt_basicts.config import BUDGETS, METHODS, TRAININGS, backbone_widths, experiment_config
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.split import Protocol
from tsjt_basicts.data.task_spec import Task, TaskRef
from tsjt_basicts.data.tasks import resolve_task
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.grid import grid_result_path, run_ratio_grid, uses_ratio_grid
from tsjt_basicts.results import WALL_TIMES, UnusableResult, config_result_path, read_result

logger = logging.getLogger(__name__)
@dataclass(frozen=True)
class Entry:
    """One method of a suite; ``backbone`` is "-" for the statistical baselines. ``options`` are
    settings beyond the budget's: ``experiment_config`` arguments of a gradient method (e.g.
    ``(("num_prompts", 10),)``) or config fields of a baseline."""

    method: str
    backbone: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def folder(self) -> str:
        name = self.method if self.backbone == "-" else f"{self.method}_{self.backbone}"
        return name + "".join(f"_{key}={value}" for key, value in self.options)


PAPER_TABLE2 = (  # the rows of the paper's Table 2, in its order (ST-GFSL in its GRU and GWN variants)
    Entry("HA", "-"), Entry("ARIMA", "-"), *(Entry("Reptile", b) for b in ("DCRNN", "GWN", "DSTAGNN", "FOGS")),
    Entry("AdaRNN", "-"), Entry("ST-GFSL", "GRU"), Entry("ST-GFSL", "GWN"), Entry("DASTNet", "-"), Entry("TPB", "GWN"),
    Entry("TransGTR", "GWN"), Entry("GPD", "GWN"), Entry("STGP", "-"), Entry("TSJT", "STGCN"), Entry("TSJT", "GWN"),
)
OUR_ROWS = (  # what the paper's rows are measured against here: the ablations and the paper's own ratio
    Entry("TargetOnly", "GWN"), Entry("Joint", "GWN"), Entry("TSJT-noNPM", "GWN"), Entry("TSJT-noAK", "GWN"),
    Entry("TSJT-paper", "GWN"),
)


def implemented(entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
    """The entries whose method (a gradient method or a registered baseline) and backbone exist here."""
    from baselines.registry import list_baselines
    from tsjt_basicts.backbones import list_backbones

    known = set(list_baselines())
    backbones = set(list_backbones())

    def exists(entry: Entry) -> bool:
        if entry.method in METHODS:
            return entry.backbone in backbones
        return entry.method in known and entry.backbone in ("-", *baseline(entry.method).takes())

    return tuple(entry for entry in entries if exists(entry))


TABLE2 = implemented(PAPER_TABLE2 + OUR_ROWS)
NPM_ABLATIONS = (  # does the NPM carry information, and does it help? (all at the paper's source ratio)
    Entry("TSJT-paper", "GWN"), Entry("TSJT-noNPM", "GWN"), Entry("TSJT-noAK", "GWN"), Entry("TSJT-paper", "STGCN"),
)
TRANSFER = (  # the controlled transfer benchmark: does TSB keep only what helps? (synthetic, truth known)
    Entry("TargetOnly", "GWN"), Entry("Joint", "GWN"), Entry("TSJT-paper", "GWN"), Entry("TSJT", "GWN"),
)
ABLATION = implemented(tuple(  # the paper's Fig. 3, at the paper's source ratio, STGCN (as the paper) and GWN
    Entry(method, backbone) for backbone in ("STGCN", "GWN")
    for method in ("TSJT-paper", "TSJT-noNPM", "TSJT-noAK", "TSJT-noTSB", "TSJT-sum")
))
BANK_SIZES = (10, 25, 50, 100, 150, 200)  # the paper's Fig. 4; and K = half the target's nodes (its default)
BANK_SIZE = tuple(Entry("TSJT-paper", "GWN", (("num_prompts", k),)) for k in BANK_SIZES) + (Entry("TSJT-paper", "GWN"),)
SOURCES = implemented((  # the paper's Fig. 5: TSJT against the strongest baselines available
    Entry("TSJT", "GWN"), Entry("GPD", "GWN"), Entry("STGP", "-"), Entry("TPB", "GWN"), Entry("Reptile", "GWN"),
))
SUITES: dict[str, tuple[tuple[Entry, ...], tuple[str, ...]]] = {
    "transfer": (TRANSFER, ("synthetic-helpful", "synthetic-harmful")),
    "table2": (TABLE2, ("metro", "la-speed", "melbourne-volume", "synthetic")),
    "npm": (NPM_ABLATIONS, ("synthetic", "metro", "la-speed")),
    "table2-paper": (TABLE2, ("METR-LA", "PEMS-BAY", "Chengdu", "Shenzhen")),
    "ablation": (ABLATION, ("metro", "la-speed", "melbourne-volume", "synthetic")),
    "bank-size": (BANK_SIZE, ("la-speed", "metro")),
    "sources": (SOURCES, ("la-speed", "melbourne-volume")),
}
TASK_VARIANTS: dict[str, Callable[[Task], list[Task]]] = {  # a suite that runs each task in several variants
    "sources": source_subsets,
}


def baseline_settings(entry: Entry, budget: str):
    """The settings of a baseline entry under a named budget (None for HA / ARIMA): its registered
    preset, with the budget's target fine-tuning and backbone widths (:mod:`baselines.registry`),
    and the entry's options."""
    settings = baseline(entry.method).settings(entry.backbone, budget)
    return replace(settings, **dict(entry.options)) if entry.options else settings


def gradient_experiment(entry: Entry, task: Task, seed: int, budget: str, out_root: str, gpus: str | None) -> dict:
    """Keyword arguments of ``experiment_config`` for a gradient-trained entry."""
    return dict(task=task, method=entry.method, backbone=entry.backbone, seed=seed, budget=BUDGETS[budget],
                training=TRAININGS[budget], backbone_config=backbone_widths(entry.backbone, budget), gpus=gpus,
                ckpt_root=out_root, **dict(entry.options))


def result_path(entry: Entry, task: TaskRef, seed: int, budget: str, out_root: str, gpus: str | None = None) -> Path:
    """Where the run's ``test_metrics.json`` lands (BasicTS runs: inside their config-md5 folder)."""
    task = resolve_task(task)
    if entry.method in METHODS:
        experiment = gradient_experiment(entry, task, seed, budget, out_root, gpus)
        if uses_ratio_grid(experiment):
            return grid_result_path(experiment)
        return config_result_path(experiment_config(**experiment))
    from baselines.common import baseline_result_path

    return baseline_result_path(entry.method, entry.backbone, task, seed, out_root, baseline_settings(entry, budget))


def baseline_device(gpus: str | None) -> str:
    """The torch device of a trained baseline: the first of ``gpus``, made visible as BasicTS does."""
    if gpus is None:
        return "cpu"
    from easytorch.utils.env import set_visible_devices

    set_visible_devices(gpus)
    return "cuda:0"


def run_entry(entry: Entry, task: TaskRef, seed: int, budget: str, out_root: str, gpus: str | None = None) -> None:
    """Train and test one method on one task (name, spec or file) with one seed."""
    task = resolve_task(task)
    if entry.method in METHODS:
        from tsjt_basicts.launcher import launch_training

        experiment = gradient_experiment(entry, task, seed, budget, out_root, gpus)
        if uses_ratio_grid(experiment):
            run_ratio_grid(experiment)
        else:
            launch_training(experiment_config(**experiment))
        return
    config = baseline_settings(entry, budget)
    baseline(entry.method).run_entry(task, seed, out_root, config, "cpu" if config is None else baseline_device(gpus))


def log_wall_time(out_root: str, entry: Entry, task: Task, seed: int, budget: str, device: str, seconds: float) -> None:
    """Append one run's wall time to ``<out_root>/wall_times.jsonl`` (read by the leaderboard)."""
    os.makedirs(out_root, exist_ok=True)
    record = {"method": entry.method, "backbone": entry.backbone, "task": task.name, "seed": seed, "budget": budget,
              "device": device, "seconds": round(seconds, 2)}
    with open(os.path.join(out_root, WALL_TIMES), "a") as f:
        f.write(json.dumps(record) + "\n")


def suite_entries(name: str, methods: list[str] | None) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """The entries and tasks of suite ``name``, keeping only ``methods`` (folder names) when given."""
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; known: {sorted(SUITES)}")
    entries, tasks = SUITES[name]
    if methods:
        unknown = set(methods) - {e.folder for e in entries}
        if unknown:
            raise ConfigError(f"suite {name!r} has no method {sorted(unknown)}; it has {[e.folder for e in entries]}")
        entries = tuple(e for e in entries if e.folder in methods)
    return entries, tasks


def run_one(entry: Entry, task: Task, seed: int, budget: str, out_root: str, gpus: str | None = None,
            threads: int | None = None, prior_seconds: float = 0.0) -> str | None:
    """Run one (method, task, seed) unless its result exists; returns a failure line, or None.
    ``prior_seconds``: time spent on the run elsewhere (a grid's candidates), added to its wall time."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    label = f"{entry.folder} on {task.name}, seed {seed}"
    try:
        path = result_path(entry, task, seed, budget, out_root, gpus)
        if path.is_file():
            check_same_data(path, task)
            read_result(path)  # a cut-off or diverged result is reported, not counted as done
            logger.info("skip %s: result exists", label)
            return None
        logger.info("run %s (%s budget)", label, budget)
        started = time.perf_counter()
        run_entry(entry, task, seed, budget, out_root, gpus)
        seconds = time.perf_counter() - started + prior_seconds
        log_wall_time(out_root, entry, task, seed, budget, json.loads(path.read_text())["device"], seconds)
    except UnusableResult as error:
        logger.error("FAILED %s: %s is unusable (%s); delete it to run it again", label, path, error)
        return f"{label}: {path} is unusable ({error}); delete it to run it again"
    except Exception as error:  # one failed run must not stop the suite; it is reported
        logger.error("FAILED %s: %s", label, error)
        return f"{label}: {error}"
    return None


def check_same_data(path: Path, task: Task) -> None:
    """Refuse to keep a baseline's result made on other data (a city prepared again since).

    A gradient method's result folder already covers its data (config md5), so only baselines'
    records are compared, under the protocol and data seed they record.
    """
    from tsjt_basicts.engine.dataset import cached_task

    record = read_result(path)
    config = record.get("config") or {}
    if record.get("method") in METHODS or "data_digest" not in record:
        return
    protocol = Protocol(record.get("protocol", "strict"), config.get("target_days", 3.0), config.get("val_days", 0.0))
    if record["data_digest"] != cached_task(task, None, config.get("data_seed", 0), protocol).digest:
        raise DataError(f"{path} was made on other data than the task's now; move it away to run it again")


def _worker_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")


def run_suite(name: str, seeds: int, budget: str, out_root: str, gpus: str | None = None,
              tasks: list[TaskRef] | None = None, methods: list[str] | None = None, jobs: int = 1,
              shard: tuple[int, int] = (1, 1)) -> list[str]:
    """Run every missing (method, task, seed) of suite ``name``; returns the runs that failed.

    ``methods`` keeps only those entries (``TSJT_GWN``, ``HA``, ...), so several processes can
    share one suite; each finished run's wall time is appended to ``wall_times.jsonl``. ``jobs > 1``
    runs that many entries at once in separate processes, the machine's cores split between them,
    each candidate of a grid-searched run as a job of its own (:mod:`tsjt_basicts.suite_pool`).
    ``shard=(k, n)`` runs only every n-th run of the suite's fixed order, from the k-th (1-based), so
    n machines (a job array) fill one results folder between them.
    """
    check_suite_options(seeds, budget, jobs)
    runs = suite_runs(name, seeds, tasks, methods, shard)
    if jobs == 1:
        failed = [run_one(entry, task, seed, budget, out_root, gpus) for entry, task, seed in runs]
    else:
        from tsjt_basicts.suite_pool import run_in_parallel

        failed = run_in_parallel(runs, budget, out_root, gpus, jobs, initializer=_worker_logging)
    return [line for line in failed if line]


def suite_runs(name: str, seeds: int, tasks: list[TaskRef] | None = None, methods: list[str] | None = None,
               shard: tuple[int, int] = (1, 1)) -> list[tuple[Entry, Task, int]]:
    """``(entry, task, seed)`` of every run of suite ``name`` in its fixed order (tasks, then entries,
    then seeds), this shard's share of them; the tasks are loaded once first (:func:`check_tasks_load`)."""
    entries, suite_tasks = suite_entries(name, methods)
    check_shard(shard)
    resolved = [resolve_task(task) for task in tasks or suite_tasks]
    if name in TASK_VARIANTS:
        resolved = [variant for task in resolved for variant in TASK_VARIANTS[name](task)]
    check_tasks_load(resolved)
    every = [(entry, task, seed) for task in resolved for entry in entries for seed in range(seeds)]
    runs = every[shard[0] - 1 :: shard[1]]
    logger.info("shard %d/%d: %d of the suite's %d runs", *shard, len(runs), len(every))
    return runs


def check_tasks_load(tasks: list[Task]) -> None:
    """Load each task's cities once under the suite's protocol, so that a task which cannot run (a city
    not prepared, a test range without data, a source copying the target) fails with its one
    :class:`DataError` before any run, not once per method and seed."""
    from tsjt_basicts.engine.dataset import cached_task

    for task in tasks:
        cached_task(task, None, 0, Protocol())


def check_suite_options(seeds: int, budget: str, jobs: int) -> None:
    """Refuse options a suite cannot run with, before it starts."""
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
    if seeds < 1 or jobs < 1:
        raise ConfigError(f"--seeds and --jobs must be >= 1, got seeds={seeds}, jobs={jobs}")


SHARD_HINT = "give --shard K/N with whole numbers 1 <= K <= N, e.g. 2/4 for the second of four shards"


def parse_shard(text: str) -> tuple[int, int]:
    """``(k, n)`` of a ``"k/n"`` shard option, checked."""
    k, slash, n = (part.strip() for part in text.partition("/"))
    if not (slash and k.isdecimal() and n.isdecimal() and 1 <= int(k) <= int(n)):
        raise ConfigError(f"--shard {text!r}: {SHARD_HINT}")
    return int(k), int(n)


def check_shard(shard: tuple[int, int]) -> None:
    """Refuse a shard ``(k, n)`` that is not the k-th of n (whole numbers, 1 <= k <= n)."""
    valid = isinstance(shard, (tuple, list)) and len(shard) == 2 and all(type(x) is int for x in shard)
    if not (valid and 1 <= shard[0] <= shard[1]):
        raise ConfigError(f"shard {shard!r}: {SHARD_HINT}")


def default_out_root(budget: str) -> str:
    return os.path.join("checkpoints", f"suite-{budget}")
