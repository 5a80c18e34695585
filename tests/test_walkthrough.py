"""The README's "Your own city" walk-through, run line by line on a generated CSV (smoke budget)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsjt_basicts.data.tasks import shared_datasets_root

PROJECT = Path(__file__).resolve().parents[1]
# the only changes to the README's lines: this interpreter and project, and a budget for a test
FOR_A_TEST = {".venv/bin/python": sys.executable, " run.py": f" {PROJECT / 'run.py'}",
              "--budget cpu": "--budget smoke", "--seeds 3": "--seeds 1"}


def walkthrough_lines() -> list[str]:
    readme = (PROJECT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough -->\s*```bash\n(.*?)```", readme, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def write_city_csv(folder: Path, sensors: int = 12, days: int = 9) -> None:
    """A 10-minute city starting at 06:10, with a gap of two stamps and some empty cells."""
    stamps = pd.date_range("2024-03-04 06:10", periods=days * 144, freq="10min")
    hours = np.asarray(stamps.hour + stamps.minute / 60.0)
    rng = np.random.default_rng(0)
    values = 50 + 20 * np.sin(2 * np.pi * (hours[:, None] - rng.uniform(0, 6, sensors)) / 24)
    values += rng.normal(0, 2, values.shape)
    table = pd.DataFrame(values.round(2), columns=[f"S{i}" for i in range(sensors)])
    table.insert(0, "timestamp", stamps.strftime("%Y-%m-%d %H:%M"))
    table.iloc[5:9, 3] = np.nan
    table.drop(index=[100, 101]).to_csv(folder / "my_city.csv", index=False)
    pd.DataFrame({"id": table.columns[1:], "lat": 48.1 + rng.uniform(0, 0.1, sensors),
                  "lon": 11.5 + rng.uniform(0, 0.1, sensors)}).to_csv(folder / "sensors.csv", index=False)


@pytest.mark.slow
@pytest.mark.skipif(not (shared_datasets_root() / "real").is_dir(), reason="the walk-through's sources are shared")
def test_the_readme_walkthrough_goes_from_a_csv_to_a_leaderboard(tmp_path):
    lines = walkthrough_lines()
    assert len(lines) == 4
    write_city_csv(tmp_path)
    for line in lines:
        for readme_text, test_text in FOR_A_TEST.items():
            line = line.replace(readme_text, test_text)
        done = subprocess.run(line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
    prepared = np.load(tmp_path / "my_data" / "my-city" / "data.npz")
    assert prepared["values"].shape == (9 * 144, 12) and np.isnan(prepared["values"][100:102]).all()
    results = sorted((tmp_path / "my_results").rglob("test_metrics.json"))
    records = [json.loads(path.read_text()) for path in results]
    assert sorted(r["method"] for r in records) == ["HA", "TSJT-paper", "TargetOnly"]
    assert all(r["task"] == "my-task" and r["target"] == "my-city" for r in records)
    board = (tmp_path / "my_results" / "leaderboard" / "leaderboard.md").read_text()
    assert "my-city" in board and "TSJT-paper" in board
