"""run.py in-process: every user mistake ends in one ``error:`` line and exit status 2, before any work;
``--ckpt`` prints (and keeps apart) the evaluated checkpoint's own metrics."""
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import run
from tsjt_basicts.config import BUDGETS, TRAININGS
from tsjt_basicts.config_file import check_experiment
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.results import evaluation_result_file, write_result

TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)
SYNTHETIC = 'task="synthetic", method="TSJT-paper"'


def write_config(folder: Path, text: str, name: str = "cfg.py") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def one_error_line(capsys) -> str:
    """The single ``error:`` line run.py printed on stderr (besides BasicTS's log lines), and no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if " - BasicTS - INFO - " not in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


CONFIG_MISTAKES = {
    "no EXPERIMENT": ("X = 1\n", "must define EXPERIMENT = dict(...) or BASELINE = dict(...)"),
    "syntax error": (f"EXPERIMENT = dict({SYNTHETIC},\n    budget='smoke'\n    seed=1)\n",
                     "cfg.py line 2: SyntaxError: invalid syntax"),
    "raises on import": ("from tsjt_basicts.config import Budget\n\nEXPERIMENT = dict(budget=Budget(target_batch=0))\n",
                         "cfg.py line 3: Budget.target_batch=0 must be a whole number >= 1"),
    "undefined name": ("EXPERIMENT = dict(task='synthetic', budget=BUDGETS['cpu'])\n",
                       "cfg.py line 1: NameError: name 'BUDGETS' is not defined"),
    "num_epochs": (f"EXPERIMENT = dict({SYNTHETIC}, num_epochs=0)\n",
                   "'num_epochs' is set by budget=Budget(steps=..., steps_per_epoch=...) or a named budget"),
    "Budget field": (f"EXPERIMENT = dict({SYNTHETIC}, target_batch=8)\n", "'target_batch' is set by budget=Budget("),
    "typo": (f"EXPERIMENT = dict({SYNTHETIC}, backbon='GWN')\n", "'backbon' is unknown (did you mean 'backbone'?)"),
    "unknown budget name": (f"EXPERIMENT = dict({SYNTHETIC}, budget='fast')\n",
                            "unknown budget 'fast'; use one of paper, cpu, smoke"),
    "unknown training name": (f"EXPERIMENT = dict({SYNTHETIC}, training='slow')\n", "unknown training 'slow'"),
    "wrong type": (f"EXPERIMENT = dict({SYNTHETIC}, seed='1')\n", "seed='1' is not int"),
    "budget of wrong type": (f"EXPERIMENT = dict({SYNTHETIC}, budget=600)\n", "budget=600 is not Budget or None"),
    "no task": ("EXPERIMENT = dict(method='Joint')\n", "has no task; add task="),
    "negative seed": (f"EXPERIMENT = dict({SYNTHETIC}, seed=-1)\n", "seed=-1 must be >= 0"),
    "prompt_dim 0": (f"EXPERIMENT = dict({SYNTHETIC}, prompt_dim=0)\n", "prompt_dim=0 must be >= 1"),
    "backbone_config field": (f"EXPERIMENT = dict({SYNTHETIC}, backbone_config=dict(hidden=8))\n",
                              "backbone_config has no field hidden; its fields: in_channels"),
    "npm_options field": (f"EXPERIMENT = dict({SYNTHETIC}, npm_options=dict(heads=2))\n",
                          "npm_options has no field heads; its fields: num_heads"),
    "granularity": ("from tsjt_basicts.config import Training\n"
                    f"EXPERIMENT = dict({SYNTHETIC}, training=Training(granularity='layer'))\n",
                    "granularity='layer'"),
    "baseline name as method": ("EXPERIMENT = dict(task='synthetic', method='HA')\n",
                                "unknown method 'HA'; known: TSJT, TSJT-paper"),
    "unknown backbone": (f"EXPERIMENT = dict({SYNTHETIC}, backbone='LSTM')\n",
                         "unknown backbone 'LSTM'; known: DCRNN, "),
    "BASELINE key": ("BASELINE = dict(method='HA', task='metro', budget='cpu', seed=3)\n", "unknown keys ['seed']"),
    "BASELINE budget": ("BASELINE = dict(method='HA', task='metro', budget='fast')\n", "unknown budget 'fast'"),
    "BASELINE method": ("BASELINE = dict(method='Reptil', task='metro', budget='cpu')\n", "unknown baseline 'Reptil'; known baselines: ARIMA, AdaRNN, DASTNet"),
    "BASELINE backbone": ("BASELINE = dict(method='Reptile', backbone='LSTM', task='metro', budget='smoke')\n",
                          "unknown backbone 'LSTM'"),
    "BASELINE Budget object": ("from tsjt_basicts.config import Budget\n"
                               "BASELINE = dict(method='HA', task='metro', budget=Budget(steps=10,\n"
                               "                steps_per_epoch=5))\n", "use one of paper, cpu, smoke"),
    "BASELINE without task": ("BASELINE = dict(method='HA', budget='cpu')\n", "no task; its keys are"),
    "both kinds": (f"EXPERIMENT = dict({SYNTHETIC})\nBASELINE = dict(method='HA', task='metro', budget='cpu')\n",
                   "defines both EXPERIMENT and BASELINE; keep the one to run"),
    "ckpt_root a file": (f"EXPERIMENT = dict({SYNTHETIC}, ckpt_root=__file__)\n",
                         ("ckpt_root '/", "cfg.py' is a file, not a folder; give a folder path")),
    "ckpt_root under a file": (f"EXPERIMENT = dict({SYNTHETIC}, ckpt_root=__file__ + '/runs')\n",
                               "cfg.py, which is a file, not a folder"),
    "data_root against the task's": ("import os\nEXPERIMENT = dict(task=dict(target='a', sources=['b'], "
                                     "data_root=os.path.dirname(__file__)), data_root='elsewhere')\n",
                                     "data_root='elsewhere' contradicts the task's own data_root"),
    "BASELINE HA with a backbone": ("BASELINE = dict(method='HA', backbone='GWN', task='metro', budget='smoke')\n",
                                    "HA takes no backbone; remove backbone='GWN'"),
    "BASELINE Reptile without one": ("BASELINE = dict(method='Reptile', task='metro', budget='smoke')\n",
                                     "Reptile needs a backbone: add backbone=... (one of DCRNN, "),
    "BASELINE ST-GFSL backbone": ("BASELINE = dict(method='ST-GFSL', backbone='DCRNN', task='metro', budget='cpu')\n",
                                  "unknown backbone 'DCRNN' for ST-GFSL; it takes one of GRU, GWN"),
    "BASELINE out_root a file": ("BASELINE = dict(method='HA', task='metro', budget='cpu', out_root=__file__)\n",
                                 ("out_root '/", "cfg.py' is a file, not a folder")),
    "BASELINE out_root a number": ("BASELINE = dict(method='HA', task='metro', budget='cpu', out_root=5)\n",
                                   "out_root=5 is not a folder path"),
}


@pytest.mark.parametrize("text, expected", CONFIG_MISTAKES.values(), ids=CONFIG_MISTAKES.keys())
def test_config_mistakes_end_in_one_line(tmp_path, capsys, text, expected):
    assert run.main(["-c", write_config(tmp_path, text)]) == 2
    line = one_error_line(capsys)
    assert all(part in line for part in ((expected,) if isinstance(expected, str) else expected)), line
    assert os.listdir(tmp_path) == ["cfg.py"]  # nothing made


def test_a_missing_config_file_and_the_grid_with_a_checkpoint(tmp_path, capsys):
    assert run.main(["-c", str(tmp_path / "nope.py")]) == 2
    assert f"config file {str(tmp_path / 'nope.py')!r} not found" in one_error_line(capsys)
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"")
    grid = write_config(tmp_path, "EXPERIMENT = dict(task='synthetic', method='TSJT')\n")
    assert run.main(["-c", grid, "--ckpt", str(ckpt)]) == 2
    assert "TSJT picks its source ratio by grid search" in one_error_line(capsys)


@pytest.mark.parametrize("options, expected", [
    (["--seed", "-1"], "--seed -1: seeds are integers >= 0"),
    (["--gpus", "0,x"], "--gpus '0,x': give distinct GPU ids"),
    (["--gpus", "0,0"], "--gpus '0,0': give distinct GPU ids"),
    (["--ckpt", "missing.pt"], "--ckpt 'missing.pt' is not a file"),
])
def test_command_line_mistakes_end_in_one_line(tmp_path, capsys, options, expected):
    assert run.main(["-c", write_config(tmp_path, f"EXPERIMENT = dict({SYNTHETIC})\n"), *options]) == 2
    assert expected in one_error_line(capsys)


SUITE = ["--suite", "table2", "--methods", "HA", "--tasks", "synthetic", "--seeds", "1", "--budget", "smoke"]
USAGE_MISTAKES = {  # argparse's own: one line too, never its usage block
    "no target": ([], "error: one of the arguments -c/--config --suite is required; see python run.py --help"),
    "both targets": (["-c", "cfg.py", "--suite", "table2"], "argument --suite: not allowed with argument -c"),
    "seed not a number": (["-c", "cfg.py", "--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
    "--tasks with no task": (["--suite", "table2", "--tasks", "--methods", "HA"],
                             "argument --tasks: expected at least one argument"),
    "--methods with no method": (["--suite", "table2", "--methods"], "argument --methods: expected at least one"),
    "unknown option": (["--suite", "table2", "--seed-count", "2"], "unrecognized arguments: --seed-count 2"),
    "--seed with --suite": ([*SUITE, "--seed", "3"], "a suite runs seeds 0..N-1: give --seeds N instead"),
    "suite options with -c": (["-c", "cfg.py", "--budget", "paper", "--out-root", "x"],
                              "--budget, --out-root are options of --suite, ignored with -c CONFIG: drop them"),
}


@pytest.mark.parametrize("options, expected", USAGE_MISTAKES.values(), ids=USAGE_MISTAKES.keys())
def test_usage_mistakes_and_ignored_options_end_in_one_line(tmp_path, capsys, monkeypatch, options, expected):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, f"EXPERIMENT = dict({SYNTHETIC})\n")
    assert run.main(options) == 2
    assert expected in one_error_line(capsys)
    assert os.listdir(tmp_path) == ["cfg.py"]


def test_gpus_of_a_config_are_named_as_its_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = write_config(tmp_path, f"EXPERIMENT = dict({SYNTHETIC}, gpus='0', ckpt_root={str(tmp_path)!r})\n")
    assert run.main(["-c", config]) == 2
    assert one_error_line(capsys).endswith(f"EXPERIMENT of {config}: gpus='0': torch {torch.__version__} sees no "
                                           "CUDA GPU on this machine; remove gpus from the config to run on the CPU")


def test_a_suite_out_root_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    notes = tmp_path / "notes.txt"
    for out_root, expected in ((notes, f"--out-root {str(notes)!r} is a file, not a folder"),
                               (notes / "suite", f"suite' lies under {notes}, which is a file, not a folder")):
        assert run.main([*SUITE, "--out-root", str(out_root)]) == 2
        assert expected in one_error_line(capsys)
    assert os.listdir(tmp_path) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_a_suite_task_that_cannot_load_fails_once_before_any_run(tmp_path, capsys):
    task = tmp_path / "ghost.toml"
    task.write_text(f'target = "ghost"\nsources = ["synthetic-la"]\ndata_root = "{tmp_path}"\n')
    options = ["--suite", "table2", "--methods", "HA", "ARIMA", "--seeds", "2", "--budget", "smoke"]
    assert run.main([*options, "--tasks", str(task), "--out-root", str(tmp_path / "out")]) == 2
    assert "'ghost'" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_no_leaderboard_is_built_when_no_run_made_the_out_root(tmp_path, capsys, monkeypatch):
    import tsjt_basicts.suite

    monkeypatch.setattr(tsjt_basicts.suite, "run_suite", lambda *args: ["HA on synthetic, seed 0: it broke"])
    assert run.main([*SUITE, "--out-root", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "failed: HA on synthetic, seed 0: it broke" in err and "--root" not in err


def test_gpus_the_machine_lacks_are_refused_before_any_work(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path, f"EXPERIMENT = dict({SYNTHETIC}, ckpt_root={str(tmp_path)!r})\n")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run.main(["-c", config, "--gpus", "0"]) == 2
    assert "sees no CUDA GPU on this machine; omit --gpus to run on the CPU" in one_error_line(capsys)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert run.main(["-c", config, "--gpus", "0,1"]) == 2
    assert "--gpus 0,1: this machine has 1 GPU(s), ids 0-0" in one_error_line(capsys)
    assert os.listdir(tmp_path) == ["cfg.py"]


def test_suite_mistakes_end_in_one_line(tmp_path, capsys):
    assert run.main(["--suite", "table2", "--ckpt", "x.pt"]) == 2
    assert "use it with -c CONFIG, not --suite" in one_error_line(capsys)
    assert run.main(["--suite", "table3", "--out-root", str(tmp_path)]) == 2
    assert "unknown suite 'table3'" in one_error_line(capsys)


def test_debug_shows_the_traceback_instead(tmp_path):
    with pytest.raises(ConfigError, match="num_epochs"):
        run.main(["-c", write_config(tmp_path, f"EXPERIMENT = dict({SYNTHETIC}, num_epochs=3)\n"), "--debug"])


def test_budget_and_training_may_be_named():
    experiment = check_experiment({"task": "synthetic", "budget": "smoke", "training": "cpu"}, "cfg.py")
    assert experiment["budget"] is BUDGETS["smoke"] and experiment["training"] is TRAININGS["cpu"]


def test_a_result_with_non_finite_metrics_exits_1_with_one_line(tmp_path, capsys):
    metrics = {"avg": {"MAE": None, "RMSE": None, "MAPE": None}, "per_step": {}}
    record = {"method": "Joint", "backbone": "GWN", "target": "x", "data_kind": "real", "protocol": "strict",
              "seed": 0, "metrics": metrics, "non_finite_metrics": ["MAE", "RMSE", "MAPE"]}
    path = Path(write_result(str(tmp_path), record))
    assert run.show_result(path) == 1
    out, err = capsys.readouterr()
    assert "avg       n/a       n/a       n/a" in out
    assert err.strip().splitlines() == [f"error: MAE, RMSE, MAPE of {path} are not finite: the model diverged "
                                        "(check the data for extreme values, or lower the learning rate)"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A config file and two untrained checkpoints of its model with one file name, in two folders."""
    from tsjt_basicts.config import experiment_config
    from tsjt_basicts.launcher import select_device
    from tsjt_basicts.runner import TSJTRunner

    root = tmp_path_factory.mktemp("evaluation")
    text = f"EXPERIMENT = dict({SYNTHETIC}, budget='smoke', backbone_config={TINY_GWN}, prompt_dim=4, " \
           f"ckpt_root={str(root / 'runs')!r})\n"
    config = write_config(root, text)
    cfg = experiment_config(**check_experiment(run.load_config(config)[1], config))
    select_device(cfg)
    state = TSJTRunner(cfg).bare_model.state_dict()
    paths = [root / folder / "NodePromptedModel_best_val_MAE.pt" for folder in ("a", "b")]
    for scale, path in enumerate(paths, 1):
        path.parent.mkdir()
        torch.save({"model_state_dict": {k: v * scale for k, v in state.items()}, "epoch": 1}, path)
    run_folder = Path(cfg.ckpt_save_dir) / cfg.md5
    write_result(str(run_folder), {"training": "result"})  # the training run's own result
    return config, paths, run_folder


def test_ckpt_prints_and_keeps_the_evaluated_checkpoints_own_metrics(checkpoints, capsys):
    config, paths, run_folder = checkpoints
    shown = []
    for path in paths:
        assert run.main(["-c", config, "--ckpt", str(path)]) == 0
        out = capsys.readouterr().out
        result = run_folder / evaluation_result_file(str(path))
        assert f"saved to {result}" in out and f"checkpoint {path.resolve()}" in out
        parts = json.loads(result.read_text())["metrics"]["by_day_type"]  # the synthetic target is dated
        assert set(parts) == {"weekday", "weekend"}  # its test range: Friday to Sunday
        assert all(f"{day_type} ({part['windows']} w.)" in out for day_type, part in parts.items())
        shown.append(json.loads(result.read_text()))
    assert evaluation_result_file(str(paths[0])) != evaluation_result_file(str(paths[1]))  # one name, two files
    assert shown[0]["metrics"]["avg"]["MAE"] != shown[1]["metrics"]["avg"]["MAE"]
    assert [r["checkpoint_path"] for r in shown] == [str(p.resolve()) for p in paths]
    assert json.loads((run_folder / "test_metrics.json").read_text()) == {"training": "result"}  # untouched


def test_ckpt_of_another_model_or_no_checkpoint_ends_in_one_line(checkpoints, capsys, tmp_path):
    config, paths, _ = checkpoints
    garbage = tmp_path / "notes.pt"
    garbage.write_text("not a checkpoint")
    assert run.main(["-c", config, "--ckpt", str(garbage)]) == 2
    assert f"--ckpt {garbage} is not a BasicTS checkpoint" in one_error_line(capsys)
    saved = torch.load(paths[0])
    saved["model_state_dict"].popitem()
    other = tmp_path / "other.pt"
    torch.save(saved, other)
    assert run.main(["-c", config, "--ckpt", str(other)]) == 2
    assert "holds another model than this config builds" in one_error_line(capsys)


@pytest.mark.slow
def test_a_named_smoke_budget_trains_and_prints_the_result(tmp_path, capsys):
    config = write_config(tmp_path, f"EXPERIMENT = dict({SYNTHETIC}, budget='smoke', backbone_config={TINY_GWN}, "
                                    f"prompt_dim=4, ckpt_root={str(tmp_path / 'runs')!r})\n")
    assert run.main(["-c", config]) == 0
    out = capsys.readouterr().out
    assert "TSJT-paper(GWN) on synthetic-shenzhen" in out and "test_metrics.json" in out
    result = json.loads(next((tmp_path / "runs").rglob("test_metrics.json")).read_text())
    assert result["budget"]["steps"] == BUDGETS["smoke"].steps and result["resumed_from_epoch"] is None
    shutil.rmtree(tmp_path / "runs")
