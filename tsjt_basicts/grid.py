"""The source ratio gamma2 / gamma1 by grid search on the validation days, as the TSJT paper chose
its learning rates ("by grid search"): TSJT's ``source_ratio="grid"``.

Each ratio of the grid trains one run (in its own folder, resumable, marked ``grid_candidate``;
at a ratio a registered method fixes, e.g. TSJT-paper's 0.005, the grid uses that method's run);
the ratio whose best checkpoint has the lowest MAE on the validation days (carved from the end of
the few-shot window; no test data) is chosen, and its run's result is written again as the grid's
own ``test_metrics.json``, with every candidate's validation MAE and the grid's whole compute.
"""
from __future__ import annotations

import hashlib
import math
import json
from dataclasses import replace
from pathlib import Path

from tsjt_basicts.config import METHODS, PAPER_RATIO, Training, experiment_config
from tsjt_basicts.data.city import DataError
from tsjt_basicts.results import RESULT_FILE, config_result_path, write_result

SOURCE_RATIO_GRID: tuple[float, ...] = (0.0, PAPER_RATIO, 0.05, 0.25, 1.0)


def uses_ratio_grid(experiment: dict) -> bool:
    """Whether ``experiment`` (keyword arguments of ``experiment_config``) needs the grid."""
    training = experiment.get("training") or Training()
    return training.source_ratio is None and METHODS[experiment.get("method", "TSJT")].grid_searched


def fixed_ratio_twin(method: str, ratio: float) -> str | None:
    """The registered method that trains exactly as ``method``'s grid candidate at ``ratio`` (the same
    model, combiner and sources at that fixed ratio, e.g. TSJT-paper at 0.005), or None."""
    spec = METHODS[method]
    return next((name for name, other in METHODS.items()
                 if other.source_ratio == ratio and replace(other, source_ratio=spec.source_ratio) == spec), None)


def candidate_config(experiment: dict, ratio: float):
    """The BasicTS config of the grid's run at source ratio ``ratio``: its fixed-ratio twin's run when
    one is registered (so the grid and e.g. TSJT-paper share that run), else a ``grid_candidate`` run."""
    training = experiment.get("training") or Training()
    twin = fixed_ratio_twin(experiment.get("method", "TSJT"), ratio)
    if twin is not None:
        return experiment_config(**{**experiment, "method": twin})
    return experiment_config(**{**experiment, "training": replace(training, source_ratio=ratio), "grid_candidate": True})


def grid_result_path(experiment: dict, grid: tuple[float, ...] = SOURCE_RATIO_GRID) -> Path:
    """Where the grid's chosen result lands: ``<run folder>/grid/<digest>/``, the digest covering every
    setting of the experiment (its runs' config md5s) and the grid, so no other grid overwrites it."""
    candidates = [candidate_config(experiment, ratio).md5 for ratio in grid]
    digest = hashlib.md5(json.dumps([candidates, list(grid)]).encode()).hexdigest()[:16]
    cfg = candidate_config(experiment, grid[0])
    return Path(cfg.ckpt_save_dir) / "grid" / digest / RESULT_FILE


def candidate_record(experiment: dict, ratio: float) -> dict:
    """Train (or reuse) the run of one ratio; returns its result record."""
    from tsjt_basicts.launcher import launch_training

    cfg = candidate_config(experiment, ratio)
    path = config_result_path(cfg)
    if not path.is_file():
        launch_training(cfg)
    return json.loads(path.read_text())


def run_ratio_grid(experiment: dict, grid: tuple[float, ...] = SOURCE_RATIO_GRID) -> dict:
    """Train one run per ratio of ``grid``, keep the one of lowest validation MAE; returns its record."""
    candidates = {ratio: candidate_record(experiment, ratio) for ratio in grid}
    val_mae = {ratio: record["selection"]["val_MAE"] for ratio, record in candidates.items()}
    if any(mae is None for mae in val_mae.values()):
        raise ValueError("the source-ratio grid needs validation days: set val_days > 0 (default 0.5)")
    finite = {ratio: mae for ratio, mae in val_mae.items() if math.isfinite(mae)}
    if not finite:
        raise DataError(f"every source ratio of the grid diverged (validation MAE {val_mae}); lower the learning rate")
    chosen = min(finite, key=finite.get)
    compute = {key: sum(r["compute"][key] for r in candidates.values()) for key in candidates[chosen]["compute"]}
    record = {
        **candidates[chosen], "method": experiment.get("method", "TSJT"), "grid_candidate": False, "compute": compute,
        "source_ratio_grid": {"ratios": list(grid), "val_MAE": [val_mae[r] for r in grid], "chosen": chosen},
    }
    write_result(str(grid_result_path(experiment, grid).parent), record)
    return record
