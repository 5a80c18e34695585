"""Progress of the baselines' long phases: a log line at each phase's start and end, a bar per loop.

Phases (loading the task, meta-/pre-training on the sources, fine-tuning on the target, scoring)
are logged at INFO by the baseline's own logger, the end with its elapsed time. Bars go to stderr
and show only where stderr is a terminal, so a suite's log stays readable; ``TSJT_PROGRESS=0``
hides them, ``TSJT_PROGRESS=1`` shows them anyway.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm import tqdm

from tsjt_basicts.errors import ConfigError

PROGRESS_ENV = "TSJT_PROGRESS"
T = TypeVar("T")


def bars_enabled() -> bool:
    """Whether progress bars show: ``TSJT_PROGRESS`` (0 / 1) if set, else whether stderr is a terminal."""
    value = os.environ.get(PROGRESS_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ConfigError(f"{PROGRESS_ENV}={value!r} is not understood; set it to 0 (no progress bars) or 1 (bars)")
    return sys.stderr.isatty() if value == "" else value == "1"


def bar(items: Iterable[T], total: int, label: str) -> Iterable[T]:
    """``items`` with a progress bar of ``total`` steps on stderr (when :func:`bars_enabled`)."""
    return tqdm(items, total=total, desc=label, disable=not bars_enabled(), file=sys.stderr, mininterval=1.0,
                dynamic_ncols=True, leave=False)


def elapsed(seconds: float) -> str:
    """``"12.3 s"``, ``"4 min 05 s"`` or ``"1 h 02 min"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


@contextmanager
def phase(logger: logging.Logger, method: str, name: str, detail: str = "") -> Iterator[None]:
    """Log ``"<method>: <name> <detail>"`` now and ``"<method>: <name> done in <elapsed>"`` at the end."""
    logger.info("%s: %s%s", method, name, f" {detail}" if detail else "")
    start = time.monotonic()
    yield
    logger.info("%s: %s done in %s", method, name, elapsed(time.monotonic() - start))
