"""The day-type split of the test metrics, from the runner and added to finished runs by rescoring."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tsjt_basicts.config import Budget, Training, experiment_config
from tsjt_basicts.launcher import launch_training
from tsjt_basicts.rescore import rescore_run

TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)
SMALL_EVAL_BATCHES = Budget(steps=6, steps_per_epoch=3, target_batch=16, source_batch=8, eval_batch_size=50)


def result_path(cfg) -> Path:
    return Path(cfg.ckpt_save_dir) / cfg.md5 / "test_metrics.json"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short TargetOnly run on the synthetic task (dated cities), tested 50 windows a batch."""
    cfg = experiment_config("synthetic", method="TargetOnly", ckpt_root=str(tmp_path_factory.mktemp("runs")),
                            budget=SMALL_EVAL_BATCHES, training=Training(lr=3e-3), backbone_config=TINY_GWN)
    runner = launch_training(cfg)
    return cfg, runner.test_data_loader.dataset.target_windows


@pytest.mark.slow
def test_the_runner_splits_its_test_windows_by_the_day_type_of_their_forecast(trained):
    cfg, windows = trained
    split = json.loads(result_path(cfg).read_text())["metrics"]["by_day_type"]
    expected = Counter(windows.day_types(np.arange(len(windows))).tolist())  # over 8 batches of 50 windows
    assert {day_type: part["windows"] for day_type, part in split.items()} == expected
    assert set(expected) == {"weekday", "weekend"}


@pytest.mark.slow
def test_rescoring_adds_the_split_only_when_it_reproduces_the_recorded_metrics(trained):
    cfg, _ = trained
    path = result_path(cfg)
    original = json.loads(path.read_text())
    unsplit = {**original, "metrics": {k: v for k, v in original["metrics"].items() if k != "by_day_type"}}

    path.write_text(json.dumps({**unsplit, "metrics": {**unsplit["metrics"], "avg": {"MAE": 1.0, "RMSE": 1.0}}}))
    assert rescore_run(cfg) == "not reproduced"  # another model's numbers: left as they were
    assert json.loads(path.read_text())["metrics"]["avg"] == {"MAE": 1.0, "RMSE": 1.0}

    path.write_text(json.dumps(unsplit))
    assert rescore_run(cfg) == "split added"
    rescored = json.loads(path.read_text())
    assert {**rescored, "metrics": {}} == {**original, "metrics": {}}  # nothing else changed
    for day_type, part in original["metrics"]["by_day_type"].items():
        assert rescored["metrics"]["by_day_type"][day_type] == pytest.approx(part)
    assert rescore_run(cfg) == "already split"


def test_a_run_never_trained_is_counted_not_evaluated(tmp_path):
    cfg = experiment_config("synthetic", method="TargetOnly", ckpt_root=str(tmp_path), budget=SMALL_EVAL_BATCHES,
                            backbone_config=TINY_GWN)
    assert rescore_run(cfg) == "no result"
