"""The command line every baseline shares: ``python -m baselines.<method> --task ... [--seed ...]``.

Phases are logged at INFO on stderr; a user's mistake (a mistyped option, unknown task, bad value,
a folder that is a file, a result of other settings in the way) ends in one ``error:`` line and
exit status 2 before any work (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from tsjt_basicts.errors import ConfigError, OneLineParser, check_output_folder, run_command


def parser(method: str, trained: bool = False) -> OneLineParser:
    """The options every baseline takes (``trained``: also ``--device``)."""
    cli = OneLineParser(
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


def number(value: float | None, digits: int, unit: str = "") -> str:
    """``value`` with ``digits`` decimals, or ``n/a`` where the metric is undefined (e.g. MAPE of zeros)."""
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def summary(record: dict) -> str:
    """One line: method, target, data kind, protocol and the averaged metrics."""
    avg = record["metrics"]["avg"]
    return (
        f"{record['method']} on {record['target']} [{record['data_kind']} data, {record['protocol']} protocol, "
        f"seed {record['seed']}]: avg MAE {number(avg['MAE'], 4)}, RMSE {number(avg['RMSE'], 4)}, "
        f"MAPE {number(avg['MAPE'], 2, '%')}"
    )


def check_folders(args: argparse.Namespace) -> None:
    """``--out-root`` can be made and ``--data-root`` is a folder, before any work."""
    check_output_folder(args.out_root, "--out-root")
    if args.data_root is not None and not Path(args.data_root).is_dir():
        raise ConfigError(f"--data-root {args.data_root!r} is not a folder; give the folder of your prepared "
                          "cities, or omit it for the project's datasets/")


def cli_main(cli: argparse.ArgumentParser, argv: list[str] | None, run: Callable[[argparse.Namespace], dict]) -> int:
    """Parse ``argv``, run, print the summary line; the exit status (2 for a user's mistake)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def main(args: argparse.Namespace) -> int:
        check_folders(args)
        print(summary(run(args)))
        return 0

    return run_command(cli, argv, main)


def protocol_options(args: argparse.Namespace) -> dict:
    """The config fields every baseline takes from the shared options."""
    return {"target_days": args.target_days, "data_seed": args.data_seed}


def trained_main(cli: argparse.ArgumentParser, argv: list[str] | None, run: Callable[..., dict],
                 make_config: Callable[[argparse.Namespace], object]) -> int:
    """``cli_main`` of a trained baseline: ``run(task, seed, protocol, out_root, data_root, config, device)``
    with ``config = make_config(args)`` (its :func:`protocol_options` and any option of its own)."""
    return cli_main(cli, argv, lambda args: run(
        args.task, args.seed, args.protocol, args.out_root, args.data_root, make_config(args), args.device))
