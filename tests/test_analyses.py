"""The paper's analyses as suites (Figs. 3-5): smoke versions on synthetic series, figure and table written."""
from dataclasses import replace

import pytest

from tsjt_basicts.analyses.__main__ import main as analyses_main
from tsjt_basicts.analyses.sources import SUBSETS_PER_SIZE, number_of_sources, source_subsets
from tsjt_basicts.config import PAPER_RATIO
from tsjt_basicts.data.formats.generic import save_generic
from tsjt_basicts.data.synthetic import synthetic_cities
from tsjt_basicts.data.task_spec import Task
from tsjt_basicts.data.tasks import resolve_task
from tsjt_basicts.results import write_result
from tsjt_basicts.suite import SUITES, run_suite


def run_and_analyse(suite: str, tmp_path, tasks: list, methods: list[str]) -> str:
    assert run_suite(suite, seeds=1, budget="smoke", out_root=str(tmp_path), tasks=tasks, methods=methods) == []
    assert analyses_main(["--suite", suite, "--root", str(tmp_path)]) == 0
    assert (tmp_path / "leaderboard" / f"{suite}.png").stat().st_size > 0
    return (tmp_path / "leaderboard" / f"{suite}.md").read_text()


@pytest.mark.slow
def test_ablation_runs_every_variant_and_tables_them(tmp_path):
    methods = [entry.folder for entry in SUITES["ablation"][0] if entry.backbone == "GWN"]
    assert {"TSJT-paper_GWN", "TSJT-noNPM_GWN", "TSJT-noAK_GWN", "TSJT-noTSB_GWN", "TSJT-sum_GWN"} == set(methods)
    table = run_and_analyse("ablation", tmp_path, ["synthetic"], methods)
    row = next(line for line in table.splitlines() if line.startswith("| synthetic (synthetic)"))
    assert "| GWN |" in row and "not run" not in row and row.count("± 0.00 (1)") == 5


def test_the_ablation_keeps_tasks_of_one_target_apart_and_leaves_other_bank_sizes_out():
    from tsjt_basicts.analyses.ablation import group

    def record(method, task, mae, **more):
        return {"method": method, "backbone": "GWN", "task": task, "target": "t", "data_kind": "real",
                "metrics": {"avg": {"MAE": mae}}, "num_nodes": 20, **more}

    groups = group([record("TSJT-paper", "a", 1.0, num_prompts=10), record("TSJT-paper", "b", 5.0, num_prompts=10),
                    record("TSJT-paper", "a", 9.0, num_prompts=3),  # a bank-size run: K=3, not half of 20
                    record("TSJT-noNPM", "a", 2.0, num_prompts=None), record("TSJT-noTSB", "a", 3.0)])
    assert groups["a (real)"]["GWN"] == {"TSJT-paper": [1.0], "TSJT-noNPM": [2.0], "TSJT-noTSB": [3.0]}
    assert groups["b (real)"]["GWN"] == {"TSJT-paper": [5.0]}


def test_the_ablation_figure_leaves_out_a_task_with_one_variant_measured():
    from tsjt_basicts.analyses.ablation import comparable

    groups = {"a (real)": {"GWN": {"TSJT-paper": [1.0], "TSJT-noAK": [2.0]}, "STGCN": {"TSJT-paper": [3.0]}},
              "b (real)": {"GWN": {"TSJT-paper": [5.0]}}}
    assert comparable(groups) == {"a (real)": {"GWN": {"TSJT-paper": [1.0], "TSJT-noAK": [2.0]}}}


@pytest.mark.slow
def test_bank_size_tables_error_and_step_cost_against_k(tmp_path):
    table = run_and_analyse("bank-size", tmp_path, ["synthetic"], ["TSJT-paper_GWN_num_prompts=10", "TSJT-paper_GWN"])
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| synthetic |")]
    half = synthetic_cities(0)[0].num_nodes // 2
    assert sorted(int(row[2]) for row in rows) == sorted([10, half])
    assert all(float(row[5]) > 0 and float(row[6]) > 0 for row in rows)  # step ms, MB measured


@pytest.mark.slow
def test_sources_runs_every_subset_of_a_user_task(tmp_path):
    root = tmp_path / "data"
    for name, city in zip(("mine", "a", "b", "c"), synthetic_cities(0)):
        save_generic(replace(city, name=name), root / name)
    task = dict(name="own", target="mine", sources=["a", "b", "c"], data_root=str(root))
    table = run_and_analyse("sources", tmp_path / "out", [task], ["Reptile_GWN"])
    row = next(line for line in table.splitlines() if "Reptile (GWN)" in line)
    assert row.count("(3)") == 2 and row.count("(1)") == 1  # 3 single sources, 3 pairs, the whole set


def test_the_sources_table_keeps_two_tasks_of_one_target_apart():
    from tsjt_basicts.analyses.sources import group

    def record(task, mae):
        return {"method": "TSJT", "backbone": "GWN", "task": task, "target": "synthetic-shenzhen",
                "data_kind": "synthetic", "metrics": {"avg": {"MAE": mae}}}

    groups = group([record("helpful-from-a", 1.0), record("helpful-from-a+b+c", 2.0),
                    record("harmful-from-a+b+c", 9.0), record("harmful-from-a+b", 8.0)])
    assert groups["helpful (synthetic)"]["TSJT (GWN)"] == {1: [1.0], 3: [2.0]}
    assert groups["harmful (synthetic)"]["TSJT (GWN)"] == {2: [8.0], 3: [9.0]}


def test_source_subsets_name_and_count_their_sources():
    names = [task.name for task in source_subsets(resolve_task("la-speed"))]
    assert len(names) == 7 and names[-1] == "la-speed" and "la-speed-from-melbourne+montevideo" in names
    assert [number_of_sources(name) for name in names] == [1, 1, 1, 2, 2, 2, 3]
    own = source_subsets(Task("own", "mine", ("a", "b")))
    assert [t.name for t in own] == ["own-from-a", "own-from-b", "own-from-a+b"]  # a user's whole set named too
    assert source_subsets(resolve_task("synthetic")) == [resolve_task("synthetic")]  # generated cities: as is


def test_source_subsets_sample_a_stated_number_of_each_size_when_there_are_more():
    task = Task("wide", "mine", tuple("abcdef"))  # 6 sources: 63 subsets, 6 / 15 / 20 / 15 / 6 / 1 by size
    names = [variant.name for variant in source_subsets(task)]
    sizes = [number_of_sources(name) for name in names]
    assert [sizes.count(n) for n in range(1, 7)] == [SUBSETS_PER_SIZE] * 5 + [1]
    assert len(set(names)) == len(names) and names[-1] == "wide-from-a+b+c+d+e+f"
    # the same draw in every process (a resumed suite must find its runs): fixed, not hash()-seeded
    pairs = [name for name, size in zip(names, sizes) if size == 2]
    assert pairs == ["wide-from-a+e", "wide-from-b+e", "wide-from-d+f"]
    other = [variant.name.replace("other", "wide") for variant in source_subsets(replace(task, name="other"))]
    assert sorted(other) != sorted(names)  # seeded by the task's name too, not one draw for every task
    many = source_subsets(Task("many", "mine", tuple(f"s{i}" for i in range(30))))  # 10^9 subsets, never listed
    assert len(many) == SUBSETS_PER_SIZE * 29 + 1


@pytest.mark.parametrize("argv, expected", [
    (["--suite", "table2", "--root", "."], "suite 'table2' has no analysis; analysed suites: ablation, bank-size"),
    (["--suite", "ablation", "--root", "/no/such/folder"], "--root /no/such/folder is not a folder of results"),
])
def test_analysis_mistakes_are_one_line(argv, expected, capsys, tmp_path):
    assert analyses_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1


def test_an_empty_results_folder_says_which_suite_to_run(tmp_path, capsys):
    assert analyses_main(["--suite", "sources", "--root", str(tmp_path)]) == 2
    assert "no result of the sources suite" in capsys.readouterr().err


def test_an_ablation_of_one_variant_says_which_runs_are_missing(tmp_path, capsys):
    write_result(str(tmp_path / "paper" / "seed0"), sweep_record("TSJT-paper", 0, PAPER_RATIO, 1.9, 1.1, 2.9))
    assert analyses_main(["--suite", "ablation", "--root", str(tmp_path)]) == 2
    assert "only one ablation variant per task has results" in capsys.readouterr().err
    assert not (tmp_path / "leaderboard").exists()


def sweep_record(method: str, seed: int, ratio: float | None, test: float, weekday: float, weekend: float,
                 **more) -> dict:
    """A result record as the runner writes it, with the fields the source-ratio sweep reads."""
    by_day_type = {"weekday": {"windows": 3, "MAE": weekday}, "weekend": {"windows": 7, "MAE": weekend}}
    metrics = {step: {"MAE": test, "RMSE": test + 1} for step in ("step1", "step3", "step6", "avg")}
    return {"method": method, "backbone": "GWN", "task": "synthetic-harmful", "seed": seed, "target": "t",
            "data_kind": "synthetic", "protocol": "strict", "interval_minutes": 10, "training": {"source_ratio": ratio},
            "selection": {"val_MAE": test / 2}, "metrics": {**metrics, "by_day_type": by_day_type}, **more}


def test_the_source_ratio_sweep_tables_every_ratio_by_day_type_and_the_choice(tmp_path):
    for seed in range(2):
        runs = {
            "0": sweep_record("TSJT", seed, 0.0, 2.0, 1.0, 3.0 + seed, grid_candidate=True),
            "paper": sweep_record("TSJT-paper", seed, PAPER_RATIO, 1.9, 1.1, 2.9),
            "1": sweep_record("TSJT", seed, 1.0, 1.5, 1.4, 1.6, grid_candidate=True),
            "grid": sweep_record("TSJT", seed, 0.0, 2.0, 1.0, 3.0 + seed,
                                 source_ratio_grid={"ratios": [0.0, 0.005, 1.0], "chosen": 0.0}),
            "joint": sweep_record("Joint", seed, 1.0, 1.6, 1.5, 1.7),
            "reptile": sweep_record("Reptile", seed, None, 9.0, 9.0, 9.0),  # not part of the sweep
        }
        for folder, record in runs.items():
            write_result(str(tmp_path / folder / f"seed{seed}"), record)
    assert analyses_main(["--suite", "transfer", "--root", str(tmp_path)]) == 0
    table = (tmp_path / "leaderboard" / "transfer.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in table.splitlines() if line.startswith("| ") and "---" not in line}
    assert list(rows) == ["run", "TSJT at ratio 0", "TSJT at ratio 0.005", "TSJT at ratio 1", "TSJT (grid's choice)",
                          "Joint"]
    assert rows["TSJT at ratio 0"] == ["1.000 ± 0.000 (2)", "2.000 ± 0.000 (2)", "1.000 ± 0.000 (2)",
                                       "3.500 ± 0.707 (2)"]
    assert rows["TSJT at ratio 1"][3] == "1.600 ± 0.000 (2)"
    assert "Chosen ratio per seed: seed 0: 0, seed 1: 0" in table
    assert (tmp_path / "leaderboard" / "transfer.png").stat().st_size > 0
