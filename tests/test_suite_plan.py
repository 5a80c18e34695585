"""``run.py --suite ... --plan``: the runs without a result and their estimated time; nothing trained."""
import json

import run
from tsjt_basicts.suite import Entry
from tsjt_basicts.suite_plan import estimate_seconds

SAMPLES = [
    {"method": "TargetOnly", "backbone": "GWN", "task": "metro", "budget": "cpu", "seconds": 60.0},
    {"method": "TargetOnly", "backbone": "GWN", "task": "metro", "budget": "cpu", "seconds": 100.0},
    {"method": "TargetOnly", "backbone": "GWN", "task": "la-speed", "budget": "cpu", "seconds": 300.0},
    {"method": "TargetOnly", "backbone": "GWN", "task": "metro", "budget": "paper", "seconds": 9000.0},
]


def test_the_estimate_is_the_median_of_the_same_task_else_of_other_tasks_else_unknown():
    target_only = Entry("TargetOnly", "GWN")
    assert estimate_seconds(SAMPLES, target_only, "metro", "cpu") == (80.0, True)
    assert estimate_seconds(SAMPLES, target_only, "melbourne-volume", "cpu") == (100.0, False)
    assert estimate_seconds(SAMPLES, Entry("Joint", "GWN"), "metro", "cpu") == (None, False)


def test_a_time_from_another_task_is_scaled_by_what_the_other_methods_took_on_both_tasks():
    samples = SAMPLES + [{"method": "Joint", "backbone": "GWN", "task": "metro", "budget": "cpu", "seconds": 200.0}]
    # TargetOnly took 300 s on la-speed against 80 s on metro (median of 60 and 100): la-speed costs 3.75x
    assert estimate_seconds(samples, Entry("Joint", "GWN"), "la-speed", "cpu") == (750.0, False)
    # no method was timed on both metro and melbourne-volume: Joint's own median, unscaled
    assert estimate_seconds(samples, Entry("Joint", "GWN"), "melbourne-volume", "cpu") == (200.0, False)


def test_the_plan_lists_the_missing_runs_with_their_estimate_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "suite"
    assert run.main(["--suite", "table2", "--tasks", "synthetic", "--methods", "HA", "--seeds", "1",
                     "--budget", "smoke", "--out-root", str(out)]) == 0
    (out / "wall_times.jsonl").write_text(json.dumps(
        {"method": "TargetOnly", "backbone": "GWN", "task": "synthetic", "budget": "smoke", "seconds": 120.0}) + "\n")
    capsys.readouterr()
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert run.main(["--suite", "table2", "--tasks", "synthetic", "--methods", "HA", "TargetOnly_GWN", "Joint_GWN",
                     "--seeds", "2", "--budget", "smoke", "--out-root", str(out), "--plan"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("5 of the 6 runs have no result")
    assert "| HA | synthetic | 1 |" in printed and "| TargetOnly_GWN | synthetic | 0, 1 | 2.0 | 4.0 |" in printed
    assert "| Joint_GWN | synthetic | 0, 1 | ? | ? |" in printed
    assert "plus 3 run(s) never timed here" in printed  # HA's seed 1 (its times were replaced) and Joint's
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # nothing trained or written


def test_plan_is_an_option_of_the_suite_only(capsys):
    assert run.main(["-c", "configs/HA_Synthetic.py", "--plan"]) == 2
    assert "--plan is an option of --suite, ignored with -c CONFIG" in capsys.readouterr().err
