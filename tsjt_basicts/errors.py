"""The user's mistakes, told in one line: every entry point prints ``error: <message>`` for these.

A :class:`UserError` message names the problem and the fix. Entry points (``run.py``, ``prepare``,
``leaderboard``, the suite) catch it, print one line and exit with status 2; ``--debug`` shows the
traceback instead. Anything else is a bug of ours and keeps its traceback.
"""
from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(ValueError):
    """A bad input of the user's (file, config, option): the message names the problem and the fix."""


class ConfigError(UserError):
    """A bad config key, value or command-line option."""


USER_ERROR_EXIT = 2


def report_user_errors(main: Callable[[], int], debug: bool) -> int:
    """Run ``main``; a :class:`UserError` becomes one ``error:`` line on stderr and exit status 2."""
    if debug:
        return main()
    try:
        return main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return USER_ERROR_EXIT
