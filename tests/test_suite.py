"""The comparison suite in smoke budget on the synthetic cities: every method, then the leaderboard."""
import json
import math
import threading
import time

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
        assert record["method"] == entry.method and record["data_kind"] == "synthetic" and record["device"] == "cpu"
        assert all(math.isfinite(v) for v in record["metrics"]["avg"].values()), entry
    written = {path: path.stat().st_mtime_ns for path in paths}
    timed = [json.loads(line) for line in (tmp_path / "wall_times.jsonl").read_text().splitlines()]
    shared = {"TSJT-paper"}  # TSJT's grid trained TSJT-paper's run (its 0.005 candidate): timed within TSJT's
    assert sorted(t["method"] for t in timed) == sorted(e.method for e in entries if e.method not in shared)
    assert all(t["seconds"] > 0 and t["device"] == "cpu" for t in timed)

    assert run.main(["--suite", "table2", "--seeds", "1", "--budget", "smoke", "--tasks", "synthetic",
                     "--out-root", str(tmp_path)]) == 0
    assert {path: path.stat().st_mtime_ns for path in paths} == written  # nothing ran twice
    table = (tmp_path / "leaderboard" / "leaderboard.md").read_text()
    assert "synthetic" in table and "TSJT (GWN)" in table and "ST-GFSL (GRU)" in table
    assert "## Wall time" in table and f"{len(entries) - len(shared)} runs" in table
    assert (tmp_path / "leaderboard" / "leaderboard.png").is_file()
    assert (tmp_path / "leaderboard" / "curves_synthetic.png").is_file()  # the training curves of the task


def test_methods_filter_runs_only_the_named_entries(tmp_path):
    assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path), tasks=["synthetic"],
                     methods=["HA", "TargetOnly_GWN"]) == []
    found = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("test_metrics.json"))
    assert found == ["HA", "TargetOnly_GWN"]


def test_unknown_suite_and_method_are_named():
    with pytest.raises(ValueError, match="unknown suite"):
        run_suite("table3", seeds=1, budget="smoke", out_root="unused")
    with pytest.raises(ValueError, match=r"no method \['TSJT_DCRNN'\]"):
        run_suite("table2", seeds=1, budget="smoke", out_root="unused", methods=["TSJT_DCRNN"])


def test_jobs_run_entries_in_parallel_processes_with_the_same_results(tmp_path):
    methods = ["HA", "TargetOnly_GWN"]
    assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path / "one"), tasks=["synthetic"],
                     methods=methods) == []
    assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path / "two"), tasks=["synthetic"],
                     methods=methods, jobs=2) == []
    for entry in SUITES["table2"][0]:
        if entry.folder in methods:
            one, two = (json.loads(result_path(entry, "synthetic", 0, "smoke", str(tmp_path / k)).read_text())
                        for k in ("one", "two"))
            assert one["metrics"]["avg"] == pytest.approx(two["metrics"]["avg"], rel=1e-5)
    assert len((tmp_path / "two" / "wall_times.jsonl").read_text().splitlines()) == 2
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path), jobs=0)


def test_a_cut_off_result_is_reported_by_the_suite_and_left_as_it_is(tmp_path):
    assert run_suite("table2", 1, "smoke", str(tmp_path), tasks=["synthetic"], methods=["HA"]) == []
    path = result_path(SUITES["table2"][0][0], "synthetic", 0, "smoke", str(tmp_path))
    path.write_text(path.read_text()[:50])
    failed = run_suite("table2", 1, "smoke", str(tmp_path), tasks=["synthetic"], methods=["HA"])
    assert len(failed) == 1 and "unusable" in failed[0] and str(path) in failed[0]
    assert len(path.read_text()) == 50


def test_a_task_that_cannot_load_fails_once_before_any_run(tmp_path):
    from tsjt_basicts.data.city import DataError

    task = dict(name="ghost-task", target="ghost", sources=["synthetic-la"], data_root=str(tmp_path))
    with pytest.raises(DataError, match="'ghost'"):
        run_suite("table2", 2, "smoke", str(tmp_path / "out"), tasks=["synthetic", task], methods=["HA", "ARIMA"])
    assert not (tmp_path / "out").exists()  # not even the good task ran


def test_shards_split_the_suite_runs_without_overlap_in_its_order(monkeypatch):
    import tsjt_basicts.suite

    def recorded(shard):
        calls = []
        monkeypatch.setattr(tsjt_basicts.suite, "run_one", lambda entry, task, seed, *rest: calls.append(
            (entry.folder, task.name, seed)))
        assert run_suite("table2", 3, "smoke", "unused", tasks=["synthetic"], methods=["HA", "TargetOnly_GWN"],
                         shard=shard) == []
        return calls

    whole = recorded((1, 1))
    shards = [recorded((k, 3)) for k in (1, 2, 3)]
    assert len(whole) == 6 and [len(s) for s in shards] == [2, 2, 2]
    assert sorted(run for s in shards for run in s) == sorted(whole)  # every run once
    assert shards[1] == whole[1::3]


def test_two_shards_into_one_folder_give_the_unsharded_results(tmp_path):
    methods = ["HA", "TargetOnly_GWN"]
    for k in (1, 2):
        assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path), tasks=["synthetic"],
                         methods=methods, shard=(k, 2)) == []
        assert len(list(tmp_path.rglob("test_metrics.json"))) == k  # one run per shard
    found = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("test_metrics.json"))
    assert found == methods
    assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path), tasks=["synthetic"],
                     methods=methods) == []  # the unsharded suite finds nothing left to run
    assert len((tmp_path / "wall_times.jsonl").read_text().splitlines()) == 2


BAD_SHARDS = ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", "1.5/2", ""]


@pytest.mark.parametrize("text", BAD_SHARDS)
def test_a_bad_shard_is_refused_in_one_line_before_any_work(tmp_path, capsys, text):
    assert run.main(["--suite", "table2", "--methods", "HA", "--tasks", "synthetic", "--seeds", "1", "--budget",
                     "smoke", "--out-root", str(tmp_path / "out"), f"--shard={text}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --shard {text!r}: give --shard K/N"), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("shard", [(0, 1), (2, 1), (1.0, 2), ("1", "2"), (1, 2, 3), 2])
def test_run_suite_refuses_a_bad_shard_tuple(shard):
    from tsjt_basicts.errors import ConfigError

    with pytest.raises(ConfigError, match="give --shard K/N"):
        run_suite("table2", 1, "smoke", "unused", tasks=["synthetic"], methods=["HA"], shard=shard)


def test_shard_is_an_option_of_the_suite_only(tmp_path, capsys):
    assert run.main(["-c", "configs/HA_Synthetic.py", "--shard", "1/2"]) == 2
    assert "--shard is an option of --suite, ignored with -c CONFIG" in capsys.readouterr().err


@pytest.mark.slow
def test_jobs_train_a_grids_candidates_as_separate_jobs_with_the_serial_result(tmp_path):
    methods = ["TSJT_GWN", "TSJT-paper_GWN"]
    for folder, jobs in (("one", 1), ("two", 2)):
        assert run_suite("table2", seeds=1, budget="smoke", out_root=str(tmp_path / folder), tasks=["synthetic"],
                         methods=methods, jobs=jobs) == []
    entries = {entry.folder: entry for entry in SUITES["table2"][0]}
    for folder in methods:
        one, two = (json.loads(result_path(entries[folder], "synthetic", 0, "smoke", str(tmp_path / k)).read_text())
                    for k in ("one", "two"))
        assert one["metrics"]["avg"] == pytest.approx(two["metrics"]["avg"], rel=1e-5)
    grid = json.loads(result_path(entries["TSJT_GWN"], "synthetic", 0, "smoke", str(tmp_path / "two")).read_text())
    assert len(grid["source_ratio_grid"]["val_MAE"]) == 5 and grid["compute"]["target_steps"] == 5 * 6
    timed = [json.loads(line) for line in (tmp_path / "two" / "wall_times.jsonl").read_text().splitlines()]
    assert [t["method"] for t in timed] == ["TSJT"]  # TSJT-paper's run is the grid's 0.005 candidate, trained once


def test_a_grid_with_a_failed_candidate_is_reported_and_not_submitted():
    from concurrent.futures import Future

    from tsjt_basicts.suite_pool import finish_grids

    def done(value):
        future = Future()
        future.set_result(value)
        return future

    class Pool:
        submitted = []

        def submit(self, *args):
            self.submitted.append(args)
            return done(None)

    late = Future()  # finishes after the first wait: the loop must sleep on it, not spin on the done ones
    threading.Timer(0.2, late.set_result, [(None, 0.0)]).start()
    grids = {("ok",): [done((None, 2.0)), done((None, 3.0)), late],
             ("bad",): [done((None, 1.0)), done(("ratio 1: nan", 0.0))]}
    runs_of = {}
    started = time.process_time()
    assert finish_grids(Pool(), grids, runs_of, "smoke", "out", None, 1) == ["ratio 1: nan"]
    assert time.process_time() - started < 0.1  # CPU time while waiting 0.2 s
    assert list(runs_of.values()) == [("ok",)] and Pool.submitted[0][-1] == 5.0  # timed as its candidates' sum
