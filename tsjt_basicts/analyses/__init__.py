"""The paper's analyses beyond Table 2, each a suite (:mod:`tsjt_basicts.suite`) with a figure and a table.

* ``ablation`` (Fig. 3): TSJT and its components taken away, per task and backbone
  (:mod:`~tsjt_basicts.analyses.ablation`);
* ``bank-size`` (Fig. 4): error and cost against the size K of the prompt bank
  (:mod:`~tsjt_basicts.analyses.bank_size`);
* ``sources`` (Fig. 5): error against the number of source cities (:mod:`~tsjt_basicts.analyses.sources`).
* ``transfer``: error against the source ratio, on weekdays and weekends, wherever a ``TSJT`` grid ran
  (:mod:`~tsjt_basicts.analyses.transfer`).

An analysis registers itself with ``@register_analysis(suite)``: ``write(root, out) -> [paths]`` reads
the result files under ``root`` and writes ``<suite>.md`` and ``<suite>.png`` into ``out``.

    python -m tsjt_basicts.analyses --suite ablation --root checkpoints/suite-cpu
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

Write = Callable[[Path, Path], list[Path]]
_ANALYSES: dict[str, Write] = {}


def register_analysis(suite: str) -> Callable[[Write], Write]:
    """Decorator: ``write(root, out)`` makes the figure and table of suite ``suite``."""

    def register(write: Write) -> Write:
        if suite in _ANALYSES:
            raise ValueError(f"suite {suite!r} already has an analysis")
        _ANALYSES[suite] = write
        return write

    return register


def analysis_for(suite: str) -> Write | None:
    """The analysis of ``suite`` (None: the suite has only the leaderboard)."""
    for module in pkgutil.iter_modules(__path__):  # importing an analysis module registers it
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return _ANALYSES.get(suite)


def analysed_suites() -> list[str]:
    analysis_for("")
    return sorted(_ANALYSES)
