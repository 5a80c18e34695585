"""Train and test one experiment from a config file, or a whole comparison suite.

    python run.py -c configs/TSJT_GWN_Synthetic.py            # CPU
    python run.py -c configs/TSJT_GWN_Chengdu.py --gpus 0     # one GPU; "0,1" runs DDP
    python run.py -c configs/TSJT_GWN_metro.py --seed 2
    python run.py -c configs/TSJT_GWN_metro.py --ckpt checkpoints/.../NodePromptedModel_best_val_MAE.pt
    python run.py -c configs/Reptile_GWN_metro.py             # a baseline
    python run.py --suite table2 --seeds 3 --budget cpu       # every method x task x seed + leaderboard

A config file defines ``EXPERIMENT`` (the keyword arguments of
:func:`tsjt_basicts.config.experiment_config`) for the gradient-trained methods, or ``BASELINE``
(``method``, ``backbone``, ``task``, ``budget``) for a baseline; the command line overrides seed
and devices. Results land in ``checkpoints/<method>_<backbone>/<task>/...``, the target city's
test metrics in ``test_metrics.json``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path


def load_config(path: str) -> tuple[str, dict]:
    """``("EXPERIMENT" | "BASELINE", the dict)`` of a config file."""
    if not Path(path).is_file():
        raise SystemExit(f"config file {path!r} not found; see configs/ for the available ones")
    spec = importlib.util.spec_from_file_location(Path(path).stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for kind in ("EXPERIMENT", "BASELINE"):
        if isinstance(getattr(module, kind, None), dict):
            return kind, dict(getattr(module, kind))
    raise SystemExit(f"config file {path!r} must define EXPERIMENT = dict(...) or BASELINE = dict(...)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("-c", "--config", help="config file defining EXPERIMENT or BASELINE")
    target.add_argument("--suite", help="run a comparison suite (table2, table2-paper, npm) and build its leaderboard")
    parser.add_argument("--gpus", default=None, help="GPU ids, e.g. '0' or '0,1' (DDP); omit for CPU")
    parser.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    parser.add_argument("--ckpt", default=None, help="evaluate this checkpoint instead of training")
    parser.add_argument("--seeds", type=int, default=3, help="suite: seeds 0..N-1 per method and task")
    parser.add_argument("--budget", default="cpu", help="suite: named budget (smoke, cpu, paper)")
    parser.add_argument("--tasks", nargs="*", default=None, help="suite: only these tasks")
    parser.add_argument("--methods", nargs="*", default=None, help="suite: only these methods (e.g. TSJT_GWN HA)")
    parser.add_argument("--out-root", default=None, help="suite: results folder (default checkpoints/suite-<budget>)")
    parser.add_argument("--jobs", type=int, default=1, help="suite: runs at once, in separate processes")
    return parser.parse_args(argv)


def run_suite_command(args: argparse.Namespace) -> int:
    """Every missing run of the suite, then its leaderboard; non-zero exit if a run failed."""
    from tsjt_basicts import leaderboard
    from tsjt_basicts.suite import default_out_root, run_suite

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    out_root = args.out_root or default_out_root(args.budget)
    failed = run_suite(args.suite, args.seeds, args.budget, out_root, args.gpus, args.tasks, args.methods, args.jobs)
    leaderboard.main(["--root", out_root, "--out", os.path.join(out_root, "leaderboard")])
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0


def run_baseline_config(baseline: dict, seed: int, gpus: str | None) -> int:
    from tsjt_basicts.suite import Entry, result_path, run_entry

    unknown = set(baseline) - {"method", "backbone", "task", "budget", "out_root"}
    if unknown:
        raise SystemExit(f"unknown BASELINE keys {sorted(unknown)}; use method, backbone, task, budget, out_root")
    baseline = {"backbone": "-", "out_root": "checkpoints", **baseline}
    entry = Entry(baseline["method"], baseline["backbone"])
    budget, out_root = baseline["budget"], baseline["out_root"]
    run_entry(entry, baseline["task"], seed, budget, out_root, gpus)
    path = result_path(entry, baseline["task"], seed, budget, out_root, gpus)
    print(format_result(json.loads(path.read_text()), str(path)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.suite:
        return run_suite_command(args)
    kind, experiment = load_config(args.config)
    if kind == "BASELINE":
        return run_baseline_config(experiment, args.seed or 0, args.gpus)
    if args.seed is not None:
        experiment["seed"] = args.seed
    if args.gpus is not None:
        experiment["gpus"] = args.gpus

    from tsjt_basicts.config import experiment_config
    from tsjt_basicts.data.city import DataError
    from tsjt_basicts.grid import grid_result_path, run_ratio_grid, uses_ratio_grid
    from tsjt_basicts.launcher import launch_evaluation, launch_training
    from tsjt_basicts.results import RESULT_FILE

    try:
        if uses_ratio_grid(experiment) and not args.ckpt:  # TSJT: one run per source ratio, the best on validation
            print(format_result(run_ratio_grid(experiment), str(grid_result_path(experiment))))
            return 0
        cfg = experiment_config(**experiment)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    runner = launch_evaluation(cfg, args.ckpt) if args.ckpt else launch_training(cfg)
    if runner is not None:  # a single process: show the result
        path = os.path.join(runner.ckpt_save_dir, RESULT_FILE)
        with open(path) as f:
            result = json.load(f)
        print(format_result(result, path))
    return 0


def format_result(result: dict, path: str) -> str:
    """A short table of the target's test metrics."""
    name = result["method"] if result["backbone"] == "-" else f"{result['method']}({result['backbone']})"
    lines = [
        f"{name} on {result['target']} "
        f"[{result['data_kind']} data, {result['protocol']} protocol, seed {result['seed']}]",
        f"{'horizon':>14}  {'MAE':>8}  {'RMSE':>8}  {'MAPE%':>8}",
    ]
    for key, values in result["metrics"].items():
        if key == "per_step":
            continue
        label = f"{key} ({values['minutes']} min)" if "minutes" in values else key
        lines.append(f"{label:>14}  {values['MAE']:8.3f}  {values['RMSE']:8.3f}  {values['MAPE']:8.2f}")
    lines.append(f"saved to {path}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
