"""Train and test one experiment from a config file, or a whole comparison suite.

    python run.py -c configs/TSJT_GWN_Synthetic.py            # CPU
    python run.py -c configs/TSJT_GWN_Chengdu.py --gpus 0     # one GPU; "0,1" runs DDP
    python run.py -c configs/TSJT_GWN_metro.py --seed 2
    python run.py -c configs/TSJT_GWN_metro.py --ckpt checkpoints/.../NodePromptedModel_best_val_MAE.pt
    python run.py -c configs/Reptile_GWN_metro.py             # a baseline
    python run.py --suite table2 --seeds 3 --budget cpu       # every method x task x seed + leaderboard

A config file defines ``EXPERIMENT`` (the keyword arguments of
:func:`tsjt_basicts.config.experiment_config`; ``budget`` and ``training`` may be named, e.g.
``budget="smoke"``) for the gradient-trained methods, or ``BASELINE`` (``method``, ``backbone``,
``task``, ``budget``) for a baseline; the command line overrides seed and devices. Results land in
``checkpoints/<method>_<backbone>/<task>/...``, the target city's test metrics in
``test_metrics.json`` (an evaluated checkpoint's in ``test_metrics_<checkpoint>_<digest>.json``).
A mistake in the command or the config ends in one ``error:`` line (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from tsjt_basicts.config_file import check_experiment, load_config
from tsjt_basicts.errors import ConfigError, OneLineParser, UserError, check_output_folder, run_command

__all__ = ["load_config", "main"]
BASELINE_KEYS = ("method", "backbone", "task", "budget", "out_root")
SUITE_DEFAULTS = {"seeds": 3, "budget": "cpu", "tasks": None, "methods": None, "out_root": None, "jobs": 1,
                  "shard": "1/1", "plan": False}


def command_line() -> OneLineParser:
    """run.py's options; the suite's default to None here, so that one given with -c is told apart."""
    parser = OneLineParser(prog="python run.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("-c", "--config", help="config file defining EXPERIMENT or BASELINE")
    target.add_argument("--suite", help="run a comparison suite (table2, table2-paper, npm, transfer, ablation, bank-size, sources) and build its leaderboard (and figure)")
    parser.add_argument("--gpus", default=None, help="GPU ids, e.g. '0' or '0,1' (DDP); omit for CPU")
    parser.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    parser.add_argument("--ckpt", default=None, help="evaluate this checkpoint instead of training")
    parser.add_argument("--seeds", type=int, help="suite: seeds 0..N-1 per method and task (default 3)")
    parser.add_argument("--budget", help="suite: named budget (smoke, cpu, paper; default cpu)")
    parser.add_argument("--tasks", nargs="+", help="suite: only these tasks (names or task files my_task.toml)")
    parser.add_argument("--methods", nargs="+", help="suite: only these methods (e.g. TSJT_GWN HA)")
    parser.add_argument("--out-root", help="suite: results folder (default checkpoints/suite-<budget>)")
    parser.add_argument("--jobs", type=int, help="suite: runs at once, in separate processes (default 1)")
    parser.add_argument("--shard", metavar="K/N", help="suite: only every N-th run from the K-th (1-based), "
                        "e.g. --shard $SLURM_ARRAY_TASK_ID/4 in a job array, all into one --out-root (default 1/1)")
    parser.add_argument("--plan", action="store_true", default=None,
                        help="suite: list the runs without a result and their estimated time; train nothing")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an input error")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return command_line().parse_args(argv)


def check_gpus(gpus: str | None, named: str | None = None, unset: str = "omit --gpus") -> None:
    """Refuse GPU ids this machine does not have, before any work (None = CPU); ``named`` tells where
    they were given (default ``--gpus IDS``), ``unset`` how to run on the CPU instead."""
    if gpus is None:
        return
    ids = gpus.split(",")
    if not all(i.strip().isdigit() for i in ids) or len(set(ids)) != len(ids):
        raise ConfigError(f"{named or f'--gpus {gpus!r}'}: give distinct GPU ids such as 0 or 0,1; "
                          f"{unset} to run on the CPU")
    import torch

    named = named or f"--gpus {gpus}"
    if not torch.cuda.is_available():
        raise ConfigError(f"{named}: torch {torch.__version__} sees no CUDA GPU on this machine; "
                          f"{unset} to run on the CPU")
    count = torch.cuda.device_count()
    if max(map(int, ids)) >= count:
        raise ConfigError(f"{named}: this machine has {count} GPU(s), ids 0-{count - 1}")


def check_options(args: argparse.Namespace) -> None:
    """The command line's own mistakes, before a config is read; a suite's options given with -c
    (or --seed with --suite) would be ignored, so they are refused."""
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: seeds are integers >= 0")
    if args.seed is not None and args.suite:
        raise ConfigError("--seed sets the seed of one -c CONFIG; a suite runs seeds 0..N-1: give --seeds N instead")
    if args.ckpt is not None and args.suite:
        raise ConfigError("--ckpt evaluates one checkpoint of a config: use it with -c CONFIG, not --suite")
    if args.ckpt is not None and not Path(args.ckpt).is_file():
        raise ConfigError(f"--ckpt {args.ckpt!r} is not a file; give the path of a .pt checkpoint in a run folder")
    ignored = [name for name in SUITE_DEFAULTS if getattr(args, name) is not None]
    if args.config and ignored:
        options, several = ", ".join(f"--{name.replace('_', '-')}" for name in ignored), len(ignored) > 1
        raise ConfigError(f"{options} {'are options' if several else 'is an option'} of --suite, ignored with -c "
                          f"CONFIG: drop {'them' if several else 'it'} (a config sets its own budget, task, method "
                          "and ckpt_root / out_root; --seed its seed)")
    check_gpus(args.gpus)


def run_suite_command(args: argparse.Namespace) -> int:
    """Every missing run of the suite, then its leaderboard; non-zero exit if a run or the leaderboard failed."""
    from tsjt_basicts import leaderboard
    from tsjt_basicts.analyses import analysis_for
    from tsjt_basicts.analyses.__main__ import main as analyses_main
    from tsjt_basicts.suite import default_out_root, parse_shard, run_suite

    options = {name: default if getattr(args, name) is None else getattr(args, name)
               for name, default in SUITE_DEFAULTS.items()}
    shard = parse_shard(options["shard"])
    out_root = options["out_root"] or default_out_root(str(options["budget"]))
    check_output_folder(out_root, "--out-root")
    if options["plan"]:
        return print_suite_plan(args.suite, options, shard, out_root, args.gpus)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    failed = run_suite(args.suite, options["seeds"], options["budget"], out_root, args.gpus, options["tasks"],
                       options["methods"], options["jobs"], shard)
    board = 0
    if Path(out_root).is_dir():  # not made when no run could start
        board = leaderboard.main(["--root", out_root, "--out", os.path.join(out_root, "leaderboard"),
                                  *(["--debug"] if args.debug else [])])
        if analysis_for(args.suite) is not None:  # the suite's figure and table beside the leaderboard
            board = board or analyses_main(["--suite", args.suite, "--root", out_root,
                                            *(["--debug"] if args.debug else [])])
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed or board else 0


def print_suite_plan(suite: str, options: dict, shard: tuple[int, int], out_root: str, gpus: str | None) -> int:
    """``--plan``: the suite's runs without a result and their estimated time; nothing is trained."""
    from tsjt_basicts.suite import check_suite_options, suite_runs
    from tsjt_basicts.suite_plan import missing_runs, render_plan

    check_suite_options(options["seeds"], options["budget"], options["jobs"])
    runs = suite_runs(suite, options["seeds"], options["tasks"], options["methods"], shard)
    missing = missing_runs(runs, options["budget"], out_root, gpus)
    print("\n".join(render_plan(missing, len(runs), options["budget"], out_root, options["jobs"])))
    return 0


def check_baseline(baseline: dict, path: str) -> None:
    """Known keys, method, budget, backbone and out_root of a ``BASELINE`` dict, before any work."""
    from tsjt_basicts.config import BUDGETS

    unknown = sorted(set(baseline) - set(BASELINE_KEYS))
    missing = [key for key in ("method", "task", "budget") if key not in baseline]
    if unknown or missing:
        problem = f"unknown keys {unknown}" if unknown else f"no {', '.join(missing)}"
        raise ConfigError(f"BASELINE of {path}: {problem}; its keys are {', '.join(BASELINE_KEYS)} "
                          "(method, task and budget required)")
    if not isinstance(baseline["budget"], str) or baseline["budget"] not in BUDGETS:
        raise ConfigError(f"BASELINE of {path}: unknown budget {baseline['budget']!r}; use one of {', '.join(BUDGETS)}")
    check_output_folder(baseline.get("out_root", "checkpoints"), f"BASELINE of {path}: out_root")
    try:
        check_baseline_backbone(str(baseline["method"]), str(baseline.get("backbone", "-")), baseline["budget"])
    except ValueError as error:  # an unknown method or backbone, raised while building the baseline's config
        raise ConfigError(f"BASELINE of {path}: {error}") from error


def check_baseline_backbone(method: str, backbone: str, budget: str) -> None:
    """A known method with a backbone it takes ("-": none) and valid settings; ValueError naming the fix."""
    from baselines.registry import baseline
    from tsjt_basicts.backbones import list_backbones
    from tsjt_basicts.config import METHODS

    if method not in METHODS:
        baseline(method).settings(backbone, budget)  # an unknown method or backbone, or bad settings
    elif backbone not in list_backbones():
        raise ValueError(f"unknown backbone {backbone!r} for {method}; it takes one of {', '.join(list_backbones())}")


def run_baseline_config(baseline: dict, args: argparse.Namespace) -> int:
    from tsjt_basicts.suite import Entry, result_path, run_entry

    if args.ckpt:
        raise ConfigError("--ckpt evaluates a checkpoint of an EXPERIMENT config; baselines keep none: drop --ckpt")
    check_baseline(baseline, args.config)
    baseline = {"backbone": "-", "out_root": "checkpoints", **baseline}
    entry, seed = Entry(str(baseline["method"]), baseline["backbone"]), args.seed or 0
    budget, out_root = baseline["budget"], baseline["out_root"]
    run_entry(entry, baseline["task"], seed, budget, out_root, args.gpus)
    return show_result(result_path(entry, baseline["task"], seed, budget, out_root, args.gpus))


def build_config(experiment: dict):
    """``experiment_config(**experiment)``; a ValueError of a setting becomes one :class:`ConfigError` line."""
    from tsjt_basicts.config import experiment_config

    try:
        return experiment_config(**experiment)
    except UserError:  # a DataError or ConfigError already says what to do
        raise
    except ValueError as error:
        raise ConfigError(f"EXPERIMENT: {error}") from error


def run_experiment(experiment: dict, ckpt: str | None) -> int:
    """Train ``experiment`` (TSJT: its source-ratio grid), or evaluate checkpoint ``ckpt`` with it."""
    from dataclasses import replace

    from tsjt_basicts.config import Training
    from tsjt_basicts.grid import SOURCE_RATIO_GRID, grid_result_path, run_ratio_grid, uses_ratio_grid
    from tsjt_basicts.launcher import launch_evaluation, launch_training

    if uses_ratio_grid(experiment):
        if ckpt:
            raise ConfigError(f"{experiment.get('method', 'TSJT')} picks its source ratio by grid search; to evaluate "
                              "one of its checkpoints set training=Training(source_ratio=<that run's ratio>)")
        training = replace(experiment.get("training") or Training(), source_ratio=SOURCE_RATIO_GRID[0])
        build_config({**experiment, "training": training, "grid_candidate": True})  # bad settings fail before work
        run_ratio_grid(experiment)
        return show_result(grid_result_path(experiment))
    cfg = build_config(experiment)
    runner = launch_evaluation(cfg, ckpt) if ckpt else launch_training(cfg)
    if runner is None:  # several processes (DDP): each logs its own part
        return 0
    return show_result(Path(runner.ckpt_save_dir) / runner.result_file)


def run(args: argparse.Namespace) -> int:
    check_options(args)
    if args.suite:
        return run_suite_command(args)
    kind, spec = load_config(args.config)
    if kind == "BASELINE":
        return run_baseline_config(spec, args)
    overrides = {key: value for key, value in (("seed", args.seed), ("gpus", args.gpus)) if value is not None}
    experiment = check_experiment({**spec, **overrides}, args.config)
    if args.gpus is None:  # the config's own gpus
        gpus = experiment.get("gpus")
        check_gpus(gpus, f"EXPERIMENT of {args.config}: gpus={gpus!r}", "remove gpus from the config")
    return run_experiment(experiment, args.ckpt)


def main(argv: list[str] | None = None) -> int:
    """The command line: 0, 1 (a run failed or diverged), or 2 with one ``error:`` line for a bad input."""
    return run_command(command_line(), argv, run)


def show_result(path: Path) -> int:
    """Print the result file at ``path``; 1 with one ``error:`` line when its metrics are not finite."""
    result = json.loads(Path(path).read_text())
    print(format_result(result, str(path)))
    if result.get("non_finite_metrics"):
        print(f"error: {', '.join(result['non_finite_metrics'])} of {path} are not finite: the model diverged "
              "(check the data for extreme values, or lower the learning rate)", file=sys.stderr)
        return 1
    return 0


def number(value: float | None, width: int, digits: int) -> str:
    """``value`` right-aligned, or ``n/a`` where the metric is undefined (nothing to score, not finite)."""
    return f"{'n/a':>{width}}" if value is None else f"{value:{width}.{digits}f}"


def format_result(result: dict, path: str) -> str:
    """A short table of the target's test metrics."""
    name = result["method"] if result["backbone"] == "-" else f"{result['method']}({result['backbone']})"
    lines = [
        f"{name} on {result['target']} "
        f"[{result['data_kind']} data, {result['protocol']} protocol, seed {result['seed']}]",
        f"{'horizon':>18}  {'MAE':>8}  {'RMSE':>8}  {'MAPE%':>8}",
    ]
    metrics = result["metrics"]
    rows = {key: values for key, values in metrics.items() if key not in ("per_step", "by_day_type")}
    for day_type, part in metrics.get("by_day_type", {}).items():
        rows[f"{day_type} ({part['windows']} w.)"] = part
    for key, values in rows.items():
        label = f"{key} ({values['minutes']} min)" if "minutes" in values else key
        cells = [number(values["MAE"], 8, 3), number(values["RMSE"], 8, 3), number(values["MAPE"], 8, 2)]
        lines.append(f"{label:>18}  " + "  ".join(cells))
    if result.get("checkpoint_path"):
        lines.append(f"checkpoint {result['checkpoint_path']}")
    lines.append(f"saved to {path}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
