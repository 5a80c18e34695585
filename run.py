"""Train and test one experiment from a config file.

    python run.py -c configs/TSJT_GWN_Synthetic.py            # CPU
    python run.py -c configs/TSJT_GWN_Chengdu.py --gpus 0     # one GPU; "0,1" runs DDP
    python run.py -c configs/TSJT_GWN_metro.py --seed 2
    python run.py -c configs/TSJT_GWN_metro.py --ckpt checkpoints/.../NodePromptedModel_best_val_MAE.pt

A config file defines ``EXPERIMENT``, the keyword arguments of
:func:`tsjt_basicts.config.experiment_config`; the command line overrides seed and devices.
Results land in ``checkpoints/<method>_<backbone>/<task>/<protocol>_seed<k>/<md5>/``, with the
target city's test metrics in ``test_metrics.json``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path


def load_experiment(path: str) -> dict:
    """The ``EXPERIMENT`` dict of a config file."""
    if not Path(path).is_file():
        raise SystemExit(f"config file {path!r} not found; see configs/ for the available ones")
    spec = importlib.util.spec_from_file_location(Path(path).stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not isinstance(getattr(module, "EXPERIMENT", None), dict):
        raise SystemExit(f"config file {path!r} must define EXPERIMENT = dict(task=..., method=..., ...)")
    return dict(module.EXPERIMENT)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="config file defining EXPERIMENT")
    parser.add_argument("--gpus", default=None, help="GPU ids, e.g. '0' or '0,1' (DDP); omit for CPU")
    parser.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    parser.add_argument("--ckpt", default=None, help="evaluate this checkpoint instead of training")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    experiment = load_experiment(args.config)
    if args.seed is not None:
        experiment["seed"] = args.seed
    if args.gpus is not None:
        experiment["gpus"] = args.gpus

    from tsjt_basicts.config import experiment_config
    from tsjt_basicts.data.city import DataError
    from tsjt_basicts.launcher import launch_evaluation, launch_training
    from tsjt_basicts.results import RESULT_FILE

    try:
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
    lines = [
        f"{result['method']}({result['backbone']}) on {result['target']} "
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
