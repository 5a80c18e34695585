"""The paper's analyses as suites (Figs. 3-5): smoke versions on synthetic series, figure and table written."""
from dataclasses import replace

import pytest

from tsjt_basicts.analyses.__main__ import main as analyses_main
from tsjt_basicts.analyses.sources import number_of_sources, source_subsets
from tsjt_basicts.data.formats.generic import save_generic
from tsjt_basicts.data.synthetic import synthetic_cities
from tsjt_basicts.data.task_spec import Task
from tsjt_basicts.data.tasks import resolve_task
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
    row = next(line for line in table.splitlines() if line.startswith("| synthetic-shenzhen"))
    assert "| GWN |" in row and "not run" not in row and row.count("± 0.00 (1)") == 5


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


def test_source_subsets_name_and_count_their_sources():
    names = [task.name for task in source_subsets(resolve_task("la-speed"))]
    assert len(names) == 7 and names[-1] == "la-speed" and "la-speed-from-melbourne+montevideo" in names
    assert [number_of_sources(name) for name in names] == [1, 1, 1, 2, 2, 2, 3]
    own = source_subsets(Task("own", "mine", ("a", "b")))
    assert [t.name for t in own] == ["own-from-a", "own-from-b", "own-from-a+b"]  # a user's whole set named too
    assert source_subsets(resolve_task("synthetic")) == [resolve_task("synthetic")]  # generated cities: as is


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
