"""The command line every baseline shares: one ``error:`` line and exit status 2 for a mistake, before any work."""
import os

import pytest

from baselines import ha, reptile
from baselines.cli import summary


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:") or "Traceback" in line or "usage" in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("main, options, expected", [
    (ha.main, ["--task", "synthetic", "--out-root", "notes.txt"], "--out-root 'notes.txt' is a file, not a folder"),
    (ha.main, ["--task", "synthetic", "--out-root", "notes.txt/runs"], "notes.txt, which is a file, not a folder"),
    (ha.main, ["--task", "synthetic", "--data-root", "nowhere"], "--data-root 'nowhere' is not a folder"),
    (ha.main, ["--task", "synthetic", "--protocol", "paper"], "argument --protocol: invalid choice: 'paper'"),
    (ha.main, [], "the following arguments are required: --task; see python -m baselines.ha --help"),
    (reptile.main, ["--task", "synthetic", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
])
def test_mistakes_end_in_one_line_before_any_work(tmp_path, monkeypatch, capsys, main, options, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    assert main(options) == 2
    assert expected in one_error_line(capsys)
    assert os.listdir(tmp_path) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_the_summary_shows_an_undefined_mape_as_n_a():
    record = {"method": "HA", "target": "zeros", "data_kind": "real", "protocol": "strict", "seed": 0,
              "metrics": {"avg": {"MAE": 0.0, "RMSE": 0.0, "MAPE": None}}}
    assert summary(record).endswith("avg MAE 0.0000, RMSE 0.0000, MAPE n/a")
    record["metrics"]["avg"]["MAPE"] = 12.345
    assert summary(record).endswith("MAPE 12.35%")
