"""The day-type split of the test metrics, from the runner and added to finished runs by rescoring."""
import json
from collections import Counter

import numpy as np
import pytest

from tsjt_basicts.config import BUDGETS, Budget, Training, experiment_config
from tsjt_basicts.grid import SOURCE_RATIO_GRID, candidate_config, grid_result_path
from tsjt_basicts.launcher import launch_training
from tsjt_basicts.rescore import main as rescore_main, rescore_grid, rescore_run
from tsjt_basicts.results import config_result_path, write_result

TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)
SMALL_EVAL_BATCHES = Budget(steps=6, steps_per_epoch=3, target_batch=16, source_batch=8, eval_batch_size=50)




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
    split = json.loads(config_result_path(cfg).read_text())["metrics"]["by_day_type"]
    expected = Counter(windows.day_types(np.arange(len(windows))).tolist())  # over 8 batches of 50 windows
    assert {day_type: part["windows"] for day_type, part in split.items()} == expected
    assert set(expected) == {"weekday", "weekend"}


@pytest.mark.slow
def test_rescoring_adds_the_split_only_when_it_reproduces_the_recorded_metrics(trained):
    cfg, _ = trained
    path = config_result_path(cfg)
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


def split(mae: float) -> dict:
    return {"weekday": {"windows": 1, "MAE": mae}, "weekend": {"windows": 2, "MAE": mae + 1}}


def test_a_grid_result_takes_the_split_of_the_candidate_it_chose(tmp_path):
    experiment = dict(task="synthetic", method="TSJT", budget=BUDGETS["smoke"], ckpt_root=str(tmp_path))
    for ratio in SOURCE_RATIO_GRID:  # every candidate already split, each with its own checkpoint
        cfg = candidate_config(experiment, ratio)
        metrics = {"avg": {"MAE": ratio, "RMSE": ratio}, "by_day_type": split(ratio)}
        write_result(str(config_result_path(cfg).parent), {"checkpoint_path": f"/runs/{ratio}.pt", "metrics": metrics})
    grid = grid_result_path(experiment)
    chosen = {"checkpoint_path": "/runs/0.25.pt", "metrics": {"avg": {"MAE": 0.25, "RMSE": 0.25}}}
    write_result(str(grid.parent), chosen)
    assert rescore_grid(experiment) == ["already split"] * len(SOURCE_RATIO_GRID) + ["split added"]
    assert json.loads(grid.read_text())["metrics"]["by_day_type"] == split(0.25)
    assert rescore_grid(experiment)[-1] == "already split"

    write_result(str(grid.parent), {**chosen, "checkpoint_path": "/elsewhere.pt"})  # no candidate holds it
    assert rescore_grid(experiment)[-1] == "choice not split"
    assert "by_day_type" not in json.loads(grid.read_text())["metrics"]


def test_a_selection_without_a_finished_run_is_one_error_line(tmp_path, capsys):
    argv = ["--suite", "transfer", "--seeds", "1", "--budget", "smoke", "--tasks", "synthetic-helpful",
            "--methods", "Joint_GWN", "--out-root", str(tmp_path)]
    assert rescore_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no finished gradient-trained run of suite 'transfer'") and err.count("\n") == 1
