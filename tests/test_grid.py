"""TSJT's source ratio by grid search on the validation days: the choice, the record, the leaderboard."""
import json

import pytest

from tsjt_basicts.config import PAPER_RATIO, Budget, Training, experiment_config
from tsjt_basicts.grid import candidate_config, fixed_ratio_twin, grid_result_path, run_ratio_grid, uses_ratio_grid
from tsjt_basicts.leaderboard import collect

TINY = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)


def tiny_experiment(root) -> dict:
    return dict(task="synthetic", method="TSJT", budget=Budget(steps=8, steps_per_epoch=4, target_batch=32,
                source_batch=12, eval_batch_size=512), training=Training(lr=3e-3), backbone_config=TINY,
                prompt_dim=4, ckpt_root=str(root))


@pytest.mark.slow
def test_the_ratio_of_lowest_validation_mae_is_chosen_and_recorded(tmp_path):
    experiment = tiny_experiment(tmp_path)
    assert uses_ratio_grid(experiment) and not uses_ratio_grid({**experiment, "method": "TSJT-paper"})
    with pytest.raises(ValueError, match="grid search"):
        experiment_config(**experiment)
    record = run_ratio_grid(experiment, grid=(0.0, 1.0))
    grid = record["source_ratio_grid"]
    assert grid["ratios"] == [0.0, 1.0] and all(mae > 0 for mae in grid["val_MAE"])
    assert grid["chosen"] == grid["ratios"][grid["val_MAE"].index(min(grid["val_MAE"]))]
    assert record["training"]["source_ratio"] == grid["chosen"] and record["method"] == "TSJT"
    assert record["compute"]["target_steps"] == 2 * 8  # the grid trained two models
    written = json.loads(grid_result_path(experiment, (0.0, 1.0)).read_text())
    assert not grid_result_path(experiment).exists()  # another grid, another result file
    assert written["source_ratio_grid"] == grid and not written["grid_candidate"]
    kept = collect(tmp_path)  # the candidates' own results are not leaderboard rows
    assert len(kept) == 1 and kept[0]["source_ratio_grid"] == grid
    again = run_ratio_grid(experiment, grid=(0.0, 1.0))  # finished candidates are reused, not retrained
    assert again["metrics"] == record["metrics"]


def test_the_grid_shares_the_run_of_a_method_that_fixes_one_of_its_ratios(tmp_path):
    experiment = tiny_experiment(tmp_path)
    assert fixed_ratio_twin("TSJT", PAPER_RATIO) == "TSJT-paper"
    assert fixed_ratio_twin("TSJT", 0.0) is None and fixed_ratio_twin("TSJT", 0.05) is None  # TargetOnly has no NPM
    paper = experiment_config(**{**experiment, "method": "TSJT-paper"})
    assert candidate_config(experiment, PAPER_RATIO).md5 == paper.md5
    candidate = candidate_config(experiment, 0.05)
    assert candidate.md5 != paper.md5 and candidate.tsjt.meta["grid_candidate"]
