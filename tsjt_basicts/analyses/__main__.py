"""``python -m tsjt_basicts.analyses --suite ablation --root checkpoints/suite-cpu [--out DIR]``: the figure
and table of an analysed suite from its result files (default ``--out``: the root's ``leaderboard/``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tsjt_basicts.analyses import analysed_suites, analysis_for
from tsjt_basicts.errors import ConfigError, OneLineParser, check_output_folder, run_command


def write(args: argparse.Namespace) -> int:
    analysis = analysis_for(args.suite)
    if analysis is None:
        raise ConfigError(f"suite {args.suite!r} has no analysis; analysed suites: {', '.join(analysed_suites())}")
    out = Path(args.out or Path(args.root) / "leaderboard")
    check_output_folder(out, "--out")
    for path in analysis(Path(args.root), out):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    cli = OneLineParser(prog="python -m tsjt_basicts.analyses", description=__doc__)
    cli.add_argument("--suite", required=True, help=f"one of {', '.join(analysed_suites())}")
    cli.add_argument("--root", required=True, help="the suite's results folder (its --out-root)")
    cli.add_argument("--out", default=None, help="where the figure and table go (default ROOT/leaderboard)")
    cli.add_argument("--debug", action="store_true", help="show the traceback of a user error")
    return run_command(cli, argv, write)


if __name__ == "__main__":
    sys.exit(main())
