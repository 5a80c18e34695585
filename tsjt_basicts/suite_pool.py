"""A suite's runs in parallel processes, each candidate of a grid-searched run a job of its own.

TSJT's ``source_ratio="grid"`` trains one run per ratio (:mod:`tsjt_basicts.grid`). Run inside one
job, the five candidates train one after another while the other workers idle; on a GPU shared by
many workers that made the grid the suite's critical path. Here every missing candidate is a job
in the suite's order, and the grid's own result is written once all its candidates are done (the
grid then reads them, training nothing). A run that is also a grid's candidate (TSJT-paper is the
grid's 0.005) is trained once, as the candidate. The grid's logged wall time is the sum of its
candidates' (the serial suite logs the same quantity), so ``--plan`` keeps estimating whole grids.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from tsjt_basicts.config import METHODS
from tsjt_basicts.data.task_spec import Task
from tsjt_basicts.grid import SOURCE_RATIO_GRID, candidate_config, candidate_record, uses_ratio_grid
from tsjt_basicts.results import config_result_path

logger = logging.getLogger(__name__)
Run = tuple  # (Entry, Task, seed)


def missing_candidates(run: Run, budget: str, out_root: str, gpus: str | None) -> dict[float, Path]:
    """The grid ratios of ``run`` whose candidate has no result yet, with that result's path
    (empty for a run that is not grid-searched or whose grid result exists)."""
    from tsjt_basicts.suite import gradient_experiment, result_path

    entry, task, seed = run
    if entry.method not in METHODS:
        return {}
    experiment = gradient_experiment(entry, task, seed, budget, out_root, gpus)
    if not uses_ratio_grid(experiment) or result_path(entry, task, seed, budget, out_root, gpus).is_file():
        return {}
    paths = {ratio: config_result_path(candidate_config(experiment, ratio)) for ratio in SOURCE_RATIO_GRID}
    return {ratio: path for ratio, path in paths.items() if not path.is_file()}


def run_candidate(entry, task: Task, seed: int, ratio: float, budget: str, out_root: str, gpus: str | None,
                  threads: int) -> tuple[str | None, float]:
    """Train one grid candidate; ``(failure line or None, seconds)``."""
    import torch

    from tsjt_basicts.suite import gradient_experiment

    torch.set_num_threads(threads)
    logger.info("run %s on %s, seed %d, grid ratio %g (%s budget)", entry.folder, task.name, seed, ratio, budget)
    started = time.perf_counter()
    try:
        candidate_record(gradient_experiment(entry, task, seed, budget, out_root, gpus), ratio)
    except Exception as error:  # reported with the grid, like a failed run
        logger.error("FAILED %s on %s, seed %d, grid ratio %g: %s", entry.folder, task.name, seed, ratio, error)
        return f"{entry.folder} on {task.name}, seed {seed}, grid ratio {ratio:g}: {error}", 0.0
    return None, time.perf_counter() - started


def run_in_parallel(runs: list[Run], budget: str, out_root: str, gpus: str | None, jobs: int,
                    initializer=None) -> list[str | None]:
    """Run ``runs`` in ``jobs`` processes (the cores split between them); one failure line or None per
    run, grid candidates counted with their grid."""
    from tsjt_basicts.suite import run_one

    threads = max(1, (os.cpu_count() or 1) // jobs)
    candidates = {run: missing_candidates(run, budget, out_root, gpus) for run in runs}
    trained_as_candidate = {path for ratios in candidates.values() for path in ratios.values()}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=initializer) as pool:
        runs_of: dict[Future, Run] = {}
        grids: dict[Run, list[Future]] = {}
        for run in runs:
            if candidates[run]:
                grids[run] = [pool.submit(run_candidate, *run, ratio, budget, out_root, gpus, threads)
                              for ratio in candidates[run]]
            elif not trained_as_candidate_run(run, trained_as_candidate, budget, out_root, gpus):
                runs_of[pool.submit(run_one, *run, budget, out_root, gpus, threads)] = run
        failed = finish_grids(pool, grids, runs_of, budget, out_root, gpus, threads)
        failed += [future.result() for future in runs_of]
    return failed


def trained_as_candidate_run(run: Run, candidate_paths: set[Path], budget: str, out_root: str,
                             gpus: str | None) -> bool:
    """Whether ``run``'s result is one of the grids' missing candidates (trained once, as the candidate)."""
    from tsjt_basicts.suite import result_path

    return result_path(*run, budget, out_root, gpus) in candidate_paths


def finish_grids(pool: ProcessPoolExecutor, grids: dict[Run, list[Future]], runs_of: dict[Future, Run],
                 budget: str, out_root: str, gpus: str | None, threads: int) -> list[str | None]:
    """As each grid's candidates finish, submit the grid's own run (into ``runs_of``), timed as the sum
    of its candidates; a grid with a failed candidate is reported, not retried."""
    from tsjt_basicts.suite import run_one

    failed: list[str | None] = []
    waiting = dict(grids)
    while waiting:
        pending = [f for futures in waiting.values() for f in futures if not f.done()]
        if pending:  # a done future would end every wait at once: the loop would spin
            wait(pending, return_when=FIRST_COMPLETED)
        for run in [run for run, futures in waiting.items() if all(f.done() for f in futures)]:
            results = [future.result() for future in waiting.pop(run)]
            errors = [line for line, _ in results if line]
            if errors:
                failed += errors
                continue
            seconds = sum(elapsed for _, elapsed in results)
            runs_of[pool.submit(run_one, *run, budget, out_root, gpus, threads, seconds)] = run
    return failed
