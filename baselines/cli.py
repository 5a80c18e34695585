"""The command line every baseline shares: ``python -m baselines.<method> --task ... [--seed ...]``.

Phases are logged at INFO on stderr; a user's mistake (unknown task, bad value, a result of other
settings in the way) ends in one ``error:`` line and exit status 2 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from tsjt_basicts.errors import report_user_errors


def parser(method: str, trained: bool = False) -> argparse.ArgumentParser:
    """The options every baseline takes (``trained``: also ``--device``)."""
    cli = argparse.ArgumentParser(
        prog=f"python -m baselines.{method.lower()}",
        description=f"{method} on a task's target city; writes test_metrics.json",
    )
    cli.add_argument("--task", required=True, help="named cross-city task, or a task file (my_task.toml / .json)")
    seeding = "seed of initialisation and sampling" if trained else "run label (the baseline is deterministic)"
    cli.add_argument("--seed", type=int, default=0, help=seeding)
    cli.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic cities")
    cli.add_argument("--protocol", choices=("strict", "stgfsl"), default="strict", help="few-shot protocol")
    cli.add_argument("--target-days", type=float, default=3.0, help="few-shot days of the target city")
    cli.add_argument("--out-root", default="checkpoints", help="results go to OUT_ROOT/<method>/<task>/...")
    cli.add_argument("--data-root", default=None, help="prepared cities (default: the project's datasets/)")
    cli.add_argument("--debug", action="store_true", help="show the traceback of a user error")
    if trained:
        cli.add_argument("--device", default="cpu", help="torch device to train and test on, e.g. cuda:0")
    return cli


def summary(record: dict) -> str:
    """One line: method, target, data kind, protocol and the averaged metrics."""
    avg = record["metrics"]["avg"]
    return (
        f"{record['method']} on {record['target']} [{record['data_kind']} data, {record['protocol']} protocol, "
        f"seed {record['seed']}]: avg MAE {avg['MAE']:.4f}, RMSE {avg['RMSE']:.4f}, MAPE {avg['MAPE']:.2f}%"
    )


def cli_main(cli: argparse.ArgumentParser, argv: list[str] | None, run: Callable[[argparse.Namespace], dict]) -> int:
    """Parse ``argv``, run, print the summary line; the exit status (2 for a user's mistake)."""
    args = cli.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def main() -> int:
        print(summary(run(args)))
        return 0

    return report_user_errors(main, args.debug)
