"""Add the error by day type to a suite's finished runs by re-evaluating their checkpoints; no training.

    python -m tsjt_basicts.rescore --suite transfer --seeds 3 --budget cpu [--tasks T ...] [--methods M ...]

Runs scored before test metrics were split by day type (``metrics.by_day_type``: the test windows whose
first forecast step falls on a weekday, or on a weekend day) get the split from their evaluated
checkpoint. The split is added to a run's ``test_metrics.json`` only when the re-evaluation reproduces
the avg MAE and RMSE it recorded (the same model, data and scoring); a run that does not is left as it
was and named. A source-ratio grid's result takes its chosen candidate's split. Runs without a result
or checkpoint (e.g. every baseline: they keep none) and targets of unknown start date are skipped
(nothing is evaluated) and counted. The re-evaluation's own ``test_metrics_<checkpoint>_<digest>.json``
stays beside the run. Give the options the suite ran with (``--gpus`` too: it is part of a run's
identity); a selection without a finished run is one error line.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections import Counter
from pathlib import Path

from tsjt_basicts.config import METHODS, experiment_config
from tsjt_basicts.errors import ConfigError, OneLineParser, run_command
from tsjt_basicts.results import config_result_path, write_result

logger = logging.getLogger(__name__)
SAME = 1e-4  # relative difference under which a re-evaluation reproduces the recorded metric


def reproduces(recorded: dict, evaluated: dict) -> bool:
    """Whether the re-evaluated avg MAE and RMSE equal the recorded ones (within :data:`SAME`)."""
    pairs = [(recorded["avg"][name], evaluated["avg"][name]) for name in ("MAE", "RMSE")]
    return all(a is not None and b is not None and math.isclose(a, b, rel_tol=SAME) for a, b in pairs)


def rescore_run(cfg) -> str:
    """Re-evaluate the checkpoint a BasicTS run was tested with; add its day-type split. Returns the outcome."""
    from tsjt_basicts.launcher import launch_evaluation

    path = config_result_path(cfg)
    if not path.is_file():
        return "no result"
    record = json.loads(path.read_text())
    if "by_day_type" in record["metrics"]:
        return "already split"
    checkpoint = Path(record.get("checkpoint_path") or "")
    if not checkpoint.is_file():
        return "no checkpoint"
    runner = launch_evaluation(cfg, str(checkpoint))
    evaluated = json.loads((path.parent / runner.result_file).read_text())["metrics"]
    if "by_day_type" not in evaluated:
        return "undated target"
    if not reproduces(record["metrics"], evaluated):
        logger.error("%s: re-evaluation gives avg MAE %s against the recorded %s; left as it was", path,
                     evaluated["avg"]["MAE"], record["metrics"]["avg"]["MAE"])
        return "not reproduced"
    write_result(str(path.parent), with_split(record, evaluated["by_day_type"]))
    return "split added"


def with_split(record: dict, by_day_type: dict) -> dict:
    """``record`` with ``by_day_type`` added to its metrics."""
    return {**record, "metrics": {**record["metrics"], "by_day_type": by_day_type}}


def rescore_grid(experiment: dict) -> list[str]:
    """Rescore every candidate of a source-ratio grid, then give the grid's result its choice's split."""
    from tsjt_basicts.grid import SOURCE_RATIO_GRID, candidate_config, grid_result_path

    configs = [candidate_config(experiment, ratio) for ratio in SOURCE_RATIO_GRID]
    outcomes = [rescore_run(cfg) for cfg in configs]
    path = grid_result_path(experiment)
    if not path.is_file():
        return [*outcomes, "no result"]
    record = json.loads(path.read_text())
    if "by_day_type" in record["metrics"]:
        return [*outcomes, "already split"]
    paths = [config_result_path(cfg) for cfg in configs]
    candidates = [json.loads(p.read_text()) for p in paths if p.is_file()]
    chosen = next((c for c in candidates if c.get("checkpoint_path") == record.get("checkpoint_path")), None)
    if chosen is None or "by_day_type" not in chosen["metrics"]:
        return [*outcomes, "choice not split"]
    write_result(str(path.parent), with_split(record, chosen["metrics"]["by_day_type"]))
    return [*outcomes, "split added"]


def rescore_suite(args: argparse.Namespace) -> Counter:
    """Rescore every gradient-trained run of the suite ``args`` name; the count of each outcome."""
    from tsjt_basicts.data.split import Protocol
    from tsjt_basicts.engine.dataset import cached_task
    from tsjt_basicts.grid import uses_ratio_grid
    from tsjt_basicts.suite import check_suite_options, default_out_root, gradient_experiment, suite_runs

    check_suite_options(args.seeds, args.budget, 1)
    out_root = args.out_root or default_out_root(args.budget)
    outcomes: Counter = Counter()
    for entry, task, seed in suite_runs(args.suite, args.seeds, args.tasks, args.methods):
        if entry.method not in METHODS:
            outcomes["baseline (no checkpoint)"] += 1
        elif cached_task(task, None, 0, Protocol()).target.start_day_of_week is None:
            outcomes["undated target"] += 1
        else:
            experiment = gradient_experiment(entry, task, seed, args.budget, out_root, args.gpus)
            grid = uses_ratio_grid(experiment)
            outcomes.update(rescore_grid(experiment) if grid else [rescore_run(experiment_config(**experiment))])
    if set(outcomes) <= {"no result", "baseline (no checkpoint)"}:
        raise ConfigError(f"no finished gradient-trained run of suite {args.suite!r} under {out_root}; give the "
                          "suite's --out-root, --budget, --seeds and --gpus as it ran")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when every rescored run reproduced its metrics, 1 otherwise, 2 on a bad option."""
    cli = OneLineParser(prog="python -m tsjt_basicts.rescore", description=__doc__.splitlines()[0])
    cli.add_argument("--suite", required=True, help="the suite whose runs to rescore (e.g. transfer, table2)")
    cli.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1, as the suite ran them")
    cli.add_argument("--budget", default="cpu", help="the suite's budget")
    cli.add_argument("--tasks", nargs="+", default=None, help="only these tasks")
    cli.add_argument("--methods", nargs="+", default=None, help="only these methods (e.g. TSJT_GWN)")
    cli.add_argument("--out-root", default=None, help="the suite's results folder (default checkpoints/suite-<budget>)")
    cli.add_argument("--gpus", default=None, help="the suite's --gpus (part of a run's identity); evaluates there")
    cli.add_argument("--debug", action="store_true", help="show the traceback of a user error")

    def rescore(args: argparse.Namespace) -> int:
        outcomes = rescore_suite(args)
        print(", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "no run")
        return 1 if outcomes["not reproduced"] else 0

    return run_command(cli, argv, rescore)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main())
