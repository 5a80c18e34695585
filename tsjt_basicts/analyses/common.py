"""What the analyses share: their records, mean and std over seeds, Markdown and figure files."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tsjt_basicts.leaderboard_runs import collect
from tsjt_basicts.errors import ConfigError


def records_under(root: Path) -> list[dict]:
    """Every usable result under ``root`` (one per run; grid candidates left out); refused when none."""
    if not Path(root).is_dir():
        raise ConfigError(f"--root {root} is not a folder of results; give the suite's --out-root")
    return collect(Path(root))


def avg(record: dict, metric: str = "MAE") -> float:
    """The record's metric averaged over the 6 horizons, in the city's units."""
    value = record["metrics"]["avg"][metric]
    return float("nan") if value is None else float(value)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample std of the finite ``values`` (std 0 for one value, NaN for none)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def cell(values: list[float], digits: int = 2) -> str:
    """``mean ± std (n)`` of ``values`` for a Markdown table."""
    mean, std = mean_std(values)
    return "n/a" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f} ({len(values)})"


def no_results(suite: str, root: Path) -> ConfigError:
    return ConfigError(f"no result of the {suite} suite under {root}; run python run.py --suite {suite} first")
