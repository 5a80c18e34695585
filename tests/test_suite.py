"""The comparison suite in smoke budget on the synthetic cities: every method, then the leaderboard."""
import json
import math

import pytest

import run
from tsjt_basicts.suite import SUITES, result_path, run_suite


@pytest.mark.slow
def test_smoke_suite_runs_every_method_resumes_and_builds_the_leaderboard(tmp_path):
    entries, _ = SUITES["table2"]
    assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path), tasks=["synthetic"]) == []
    paths = [result_path(entry, "synthetic", 0, "smoke", str(tmp_path)) for entry in entries]
    for entry, path in zip(entries, paths):
        record = json.loads(path.read_text())
        assert record["method"] == entry.method and record["data_kind"] == "synthetic"
        assert all(math.isfinite(v) for v in record["metrics"]["avg"].values()), entry
    written = {path: path.stat().st_mtime_ns for path in paths}

    assert run.main(["--suite", "table2", "--seeds", "1", "--budget", "smoke", "--tasks", "synthetic",
                     "--out-root", str(tmp_path)]) == 0
    assert {path: path.stat().st_mtime_ns for path in paths} == written  # nothing ran twice
    table = (tmp_path / "leaderboard" / "leaderboard.md").read_text()
    assert "synthetic" in table and "TSJT (GWN)" in table and "ST-GFSL (GRU)" in table
    assert (tmp_path / "leaderboard" / "leaderboard.png").is_file()


def test_unknown_suite_and_budget_are_named():
    with pytest.raises(ValueError, match="unknown suite"):
        run_suite("table3", seeds=1, budget="smoke", out_root="unused")
