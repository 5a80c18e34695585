"""The user's mistakes, told in one line: every entry point prints ``error: <message>`` for these.

A :class:`UserError` message names the problem and the fix. Entry points (``run.py``, ``prepare``,
``leaderboard``, the baselines, the suite) parse their options with :class:`OneLineParser` and run
through :func:`report_user_errors`, which prints one line and exits with status 2; ``--debug``
shows the traceback instead. Anything else is a bug of ours and keeps its traceback.
:func:`check_output_folder` refuses an output folder that cannot be made, before any work.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn


class UserError(ValueError):
    """A bad input of the user's (file, config, option): the message names the problem and the fix."""


class ConfigError(UserError):
    """A bad config key, value or command-line option."""


USER_ERROR_EXIT = 2


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are a :class:`ConfigError` (one ``error:`` line, status 2),
    not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message}; see {self.prog} --help")


def report_user_errors(main: Callable[[], int], debug: bool) -> int:
    """Run ``main``; a :class:`UserError` becomes one ``error:`` line on stderr and exit status 2."""
    if debug:
        return main()
    try:
        return main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return USER_ERROR_EXIT


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None,
                work: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` (default: the command line) and run ``work``; a mistake in either, the options'
    included, is one ``error:`` line and status 2 unless ``--debug`` is among them."""
    argv = sys.argv[1:] if argv is None else argv
    return report_user_errors(lambda: work(parser.parse_args(argv)), debug="--debug" in argv)


def check_output_folder(path: str | os.PathLike, option: str) -> None:
    """Refuse output folder ``path`` (named ``option`` to the user) when it is a file, lies under a
    file, or its nearest existing folder cannot be written; nothing is made."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ConfigError(f"{option}={path!r} is not a folder path; give a path such as 'checkpoints'")
    for folder in [Path(path), *Path(path).absolute().parents]:
        if folder.exists():
            if not folder.is_dir():
                where = "is" if folder == Path(path) else f"lies under {folder}, which is"
                raise ConfigError(f"{option} {str(path)!r} {where} a file, not a folder; give a folder path")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(f"{option} {str(path)!r}: {folder} is not writable; give a folder you may write")
            return
