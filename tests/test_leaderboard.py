"""The leaderboard renders Table 2's layout from hand-made result files."""
import csv
import json
import os

import pytest

from tsjt_basicts.errors import ConfigError
from tsjt_basicts.leaderboard import main, parse_args, write_leaderboard
from tsjt_basicts.results import write_result

STEPS = ("step1", "step3", "step6", "avg")


def write_record(root, method, backbone, seed, mae, rmse, kind="real", task="metro", target="hangzhou-metro",
                 interval=10, protocol="strict", folder="", diagnostics=None, compute=None, settings=None):
    """A test_metrics.json as result_record writes it; ``mae``: one value, or {step: value}; ``settings``:
    more fields (budget, training, ...)."""
    mae = mae if isinstance(mae, dict) else dict.fromkeys(STEPS, mae)
    metrics = {step: {"MAE": mae.get(step, mae.get("rest")), "RMSE": rmse, "MAPE": 1.0} for step in STEPS}
    record = {
        "method": method, "backbone": backbone, "task": task, "seed": seed, "target_days": 3.0, "data_seed": 0,
        "target": target, "data_kind": kind, "protocol": protocol, "interval_minutes": interval,
        "test_windows": 10, "metrics": metrics, **({"diagnostics": diagnostics} if diagnostics else {}),
        **({"compute": compute} if compute else {}), **(settings or {}),
    }
    return write_result(str(root / (folder or f"{method}_{backbone}") / task / f"{protocol}_seed{seed}"), record)


def board(argv: list[str]) -> dict:
    """The leaderboard's paths for command line ``argv`` (input errors raised, not printed)."""
    return write_leaderboard(parse_args(argv))


def tables(markdown: str) -> dict[str, dict[str, list[str]]]:
    """Heading -> {column or row label -> cells}."""
    parsed = {}
    for block in markdown.split("### ")[1:]:
        heading, _, *lines = block.splitlines()
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("|")]
        parsed[heading] = {"columns": rows[0][1:], **{row[0]: row[1:] for row in rows[2:]}}
    return parsed


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "checkpoints"
    for seed, (ha, tsjt) in enumerate([(3.0, 2.0), (3.2, 2.4)]):
        write_record(root, "HA", "-", seed, ha, rmse=5.0)
        write_record(root, "TSJT", "GWN", seed, {"step1": 4.0, "rest": tsjt}, rmse=6.0 + 0.2 * seed)
    write_record(root, "ARIMA", "-", 0, 2.5, rmse=5.5)
    write_record(root, "HA", "-", 0, 0.9, rmse=1.0, kind="synthetic", task="synthetic", target="synthetic-shenzhen")
    return root


def test_markdown_has_mean_std_cells_marks_and_one_table_per_data_kind(results, tmp_path):
    paths = board(["--root", str(results), "--out", str(tmp_path / "board")])
    parsed = tables(paths["md"].read_text())
    real = parsed["hangzhou-metro (task metro): real data, strict protocol, 3 few-shot days"]
    assert real["columns"] == ["seeds", "MAE 10 min", "MAE 30 min", "MAE 60 min", "MAE avg",
                               "RMSE 10 min", "RMSE 30 min", "RMSE 60 min", "RMSE avg"]
    assert real["HA"] == ["2", "<u>3.10 ± 0.14</u>", "3.10 ± 0.14", "3.10 ± 0.14", "3.10 ± 0.14",
                          *["**5.00 ± 0.00**"] * 4]
    assert real["ARIMA"] == ["1", "**2.50**", *["<u>2.50</u>"] * 3, *["<u>5.50</u>"] * 4]
    assert real["TSJT (GWN)"] == ["2", "4.00 ± 0.00", *["**2.20 ± 0.28**"] * 3, *["6.10 ± 0.14"] * 4]
    synthetic = parsed[
        "synthetic-shenzhen (task synthetic): synthetic data, strict protocol, 3 few-shot days, data seed 0"
    ]
    assert set(synthetic) == {"columns", "HA"} and synthetic["HA"][4] == "0.90"  # alone: nothing to rank
    assert len(parsed) == 2 and paths["png"].stat().st_size > 0


def test_csv_has_one_row_per_target_and_method(results, tmp_path):
    paths = board(["--root", str(results), "--out", str(tmp_path / "board")])
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [(r["data_kind"], r["target"], r["method"], r["backbone"]) for r in rows] == [
        ("real", "hangzhou-metro", "ARIMA", "-"), ("real", "hangzhou-metro", "HA", "-"),
        ("real", "hangzhou-metro", "TSJT", "GWN"), ("synthetic", "synthetic-shenzhen", "HA", "-"),
    ]
    ha = rows[1]
    assert (ha["n_seeds"], ha["seeds"], ha["source"], ha["protocol"]) == ("2", "0;1", "measured", "strict")
    assert float(ha["MAE_avg_mean"]) == pytest.approx(3.1)
    assert float(ha["MAE_avg_std"]) == pytest.approx(0.141421, rel=1e-5)
    assert rows[0]["MAE_avg_std"] == ""  # one seed: no std


def test_paper_rows_are_shown_but_never_ranked(tmp_path):
    root = tmp_path / "checkpoints"
    for method, backbone, mae in (("TSJT", "GWN", 3.5), ("HA", "-", 4.0)):
        write_record(root, method, backbone, 0, mae, rmse=7.0, task="METR-LA", target="METR-LA", interval=5)
    paths = board(["--root", str(root), "--out", str(tmp_path / "board"), "--paper"])
    (table,) = tables(paths["md"].read_text()).values()
    assert table["columns"][1:4] == ["MAE 5 min", "MAE 15 min", "MAE 30 min"]
    assert table["TSJT (GWN) [paper-reported]"] == ["-", "n/a", "n/a", "n/a", "3.38", *["n/a"] * 4]
    assert table["TSJT (GWN)"][4] == "**3.50**" and table["HA"][4] == "<u>4.00</u>"
    paper = [r for r in csv.DictReader(paths["csv"].open()) if r["source"] == "paper-reported"]
    assert len(paper) == 1 and paper[0]["MAE_avg_mean"] == "3.38" and paper[0]["MAE_step1_mean"] == ""


def test_protocols_never_share_a_table_and_a_duplicate_run_counts_once(results, tmp_path):
    write_record(results, "HA", "-", 0, 9.0, rmse=9.0, protocol="stgfsl")
    copy = write_record(results, "HA", "-", 1, 3.2, rmse=5.0, folder="copy")
    os.utime(copy, (1, 1))  # older than the original: the original wins
    parsed = tables(board(["--root", str(results), "--out", str(tmp_path / "board")])["md"].read_text())
    assert parsed["hangzhou-metro (task metro): real data, stgfsl protocol, 3 few-shot days"]["HA"][4] == "9.00"
    assert parsed["hangzhou-metro (task metro): real data, strict protocol, 3 few-shot days"]["HA"][:2] == [
        "2", "<u>3.10 ± 0.14</u>"
    ]


def test_overview_shows_avg_mae_per_method_and_city_with_short_seed_counts(results, tmp_path):
    markdown = board(["--root", str(results), "--out", str(tmp_path / "board")])["md"].read_text()
    overview = markdown.split("## Overview: avg MAE over the 6 horizons")[1].split("###")[0]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")[1:]]
            for line in overview.splitlines() if line.startswith("| ") and not line.startswith("| method")}
    assert rows == {
        "ARIMA": ["<u>2.50</u> (n=1)", "–"],
        "HA": ["3.10 ± 0.14", "0.90 (n=1)"],
        "TSJT (GWN)": ["**2.20 ± 0.28**", "–"],
    }
    assert "| method | hangzhou-metro (real) | synthetic-shenzhen (synthetic) |" in overview


def test_wall_times_of_a_suite_are_summed_per_method_and_task(results, tmp_path):
    lines = [{"method": "HA", "backbone": "-", "task": "metro", "seed": s, "budget": "cpu", "device": "cpu",
              "seconds": 1.0 + s} for s in (0, 1, 1)]  # seed 1 re-run: its last time counts
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (results / "wall_times.jsonl").write_text(text + '{"method": "HA", "backb')  # cut off by a kill
    markdown = board(["--root", str(results), "--out", str(tmp_path / "board")])["md"].read_text()
    assert "2 runs, 0.1 min in all" in markdown and "| HA | metro | cpu | 2 | 1.5 |" in markdown


def test_overview_columns_of_one_target_in_two_settings_are_told_apart(tmp_path):
    write_record(tmp_path, "HA", "-", 0, 3.0, rmse=5.0)
    write_record(tmp_path, "HA", "-", 0, 2.0, rmse=4.0, protocol="stgfsl")
    markdown = board(["--root", str(tmp_path), "--out", str(tmp_path / "board")])["md"].read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| method | hangzhou"))
    assert "hangzhou-metro (real data, stgfsl protocol" in header and "hangzhou-metro (real data, strict protocol" in header


def test_tasks_keeps_only_their_results_and_names_a_task_without_any(results, tmp_path, capsys):
    (results / "wall_times.jsonl").write_text("".join(
        json.dumps({"method": "HA", "backbone": "-", "task": task, "seed": 0, "budget": "cpu", "device": "cpu",
                    "seconds": 2.0}) + "\n" for task in ("metro", "synthetic")))
    markdown = board(["--root", str(results), "--out", str(tmp_path / "board"), "--tasks", "synthetic"])["md"]
    header = next(line for line in markdown.read_text().splitlines() if line.startswith("| method |"))
    assert "synthetic-shenzhen" in header and "hangzhou-metro" not in header
    assert "| HA | synthetic | cpu | 1 |" in markdown.read_text()
    assert "| HA | metro |" not in markdown.read_text()  # nor the other tasks' wall times
    assert main(["--root", str(results), "--out", str(tmp_path / "b2"), "--tasks", "metro", "metr"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --tasks: no results of metr under {results}; its tasks are metro, synthetic")
    assert not (tmp_path / "b2").exists()


def test_one_target_in_two_tasks_is_told_apart_by_its_task(tmp_path):
    for task in ("synthetic-helpful", "synthetic-harmful"):
        write_record(tmp_path, "Joint", "GWN", 0, 1.6, rmse=2.0, kind="synthetic", task=task,
                     target="synthetic-shenzhen", diagnostics={"npm_attention_entropy_ratio": 0.7})
    markdown = board(["--root", str(tmp_path), "--out", str(tmp_path / "board")])["md"].read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| method | synthetic"))
    assert "task synthetic-helpful" in header and "task synthetic-harmful" in header
    assert "| Joint (GWN) | synthetic-shenzhen (task synthetic-harmful, synthetic) | 0.700 |" in markdown


def test_npm_diagnostics_are_averaged_over_seeds_in_their_own_table(tmp_path):
    root = tmp_path / "checkpoints"
    for seed, entropy in enumerate([0.4, 0.6]):
        diagnostics = {"npm_attention_entropy_ratio": entropy, "prompt_graph_offdiag_mean": 0.5,
                       "prompt_graph_offdiag_p5": 0.1, "adaptive_support_rowmax_x_n": None}
        write_record(root, "TSJT-noAK", "GWN", seed, 2.0, rmse=3.0, diagnostics=diagnostics)
    write_record(root, "HA", "-", 0, 3.0, rmse=4.0)
    markdown = board(["--root", str(root), "--out", str(tmp_path / "board")])["md"].read_text()
    section = markdown.split("## NPM diagnostics")[1].split("##")[0]
    rows = [line for line in section.splitlines() if line.startswith("| TSJT")]
    assert rows == ["| TSJT-noAK (GWN) | hangzhou-metro (real) | 0.500 | 0.500 | 0.100 | – |"]
    assert "| HA |" not in section


def test_the_overview_is_written_between_the_readme_markers_and_nothing_else_changes(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- leaderboard:overview -->\nold table\n<!-- /leaderboard:overview -->\nafter\n")
    board(["--root", str(results), "--out", str(tmp_path / "board"), "--readme", str(readme)])
    text = readme.read_text()
    assert text.startswith("intro\n<!-- leaderboard:overview -->\n#### Overview") and text.endswith("after\n")
    assert "old table" not in text and "| TSJT (GWN) |" in text
    readme.write_text("no markers here\n")
    with pytest.raises(ConfigError, match="needs one '<!-- leaderboard:overview -->' line"):
        board(["--root", str(results), "--out", str(tmp_path / "board"), "--readme", str(readme)])
    assert readme.read_text() == "no markers here\n"


def test_each_methods_compute_is_listed(tmp_path):
    root = tmp_path / "checkpoints"
    compute = {"target_steps": 600, "target_samples": 9600, "source_steps": 600, "source_samples": 19200}
    for seed in range(2):
        write_record(root, "TSJT", "GWN", seed, 2.0, rmse=3.0, compute=compute)
    write_record(root, "HA", "-", 0, 3.0, rmse=4.0)
    markdown = board(["--root", str(root), "--out", str(tmp_path / "board")])["md"].read_text()
    section = markdown.split("## Compute")[1]
    assert "| TSJT (GWN) | hangzhou-metro (real) | 600 | 9,600 | 600 | 19,200 |" in section
    assert "| HA |" not in section


def test_the_error_by_day_type_is_averaged_over_seeds_where_runs_report_it(tmp_path):
    root = tmp_path / "checkpoints"
    for seed, (weekday, weekend) in enumerate([(2.0, 4.0), (3.0, 5.0)]):
        path = write_record(root, "TSJT", "GWN", seed, 3.0, rmse=4.0)
        record = json.loads(open(path).read())
        record["metrics"]["by_day_type"] = {"weekday": {"windows": 6, "MAE": weekday, "RMSE": 1.0, "MAPE": None},
                                            "weekend": {"windows": 4, "MAE": weekend, "RMSE": 1.0, "MAPE": None}}
        write_result(os.path.dirname(path), record)
    write_record(root, "HA", "-", 0, 3.0, rmse=4.0)  # a record without the breakdown (undated, or older)
    with_split = write_record(root, "Joint", "GWN", 0, 3.0, rmse=4.0)
    record = json.loads(open(with_split).read())
    record["metrics"]["by_day_type"] = {"weekday": {"windows": 6, "MAE": 1.0}}
    write_result(os.path.dirname(with_split), record)
    write_record(root, "Joint", "GWN", 1, 3.0, rmse=4.0)  # its second seed was never split
    markdown = board(["--root", str(root), "--out", str(tmp_path / "board")])["md"].read_text()
    section = markdown.split("## Avg MAE by day type")[1]
    assert "| TSJT (GWN) | hangzhou-metro (real) | 2.500 | 4.500 |" in section
    assert "| HA |" not in section and "| Joint (GWN) |" not in section  # never a mean over fewer seeds


def test_a_cut_off_or_diverged_result_is_skipped_with_a_warning_naming_it(results, tmp_path, caplog):
    cut = results / "TPB_GWN" / "metro" / "strict_seed0" / "test_metrics.json"
    cut.parent.mkdir(parents=True)
    cut.write_text('{"method": "TPB", "backbone": "GWN", "metr')  # a run killed while writing
    diverged = write_record(results, "Reptile", "GWN", 0, 2.0, rmse=3.0)
    record = json.loads(open(diverged).read())
    write_result(os.path.dirname(diverged), {**record, "non_finite_metrics": ["MAE", "RMSE"]})
    markdown = board(["--root", str(results), "--out", str(tmp_path / "board")])["md"].read_text()
    real = tables(markdown)["hangzhou-metro (task metro): real data, strict protocol, 3 few-shot days"]
    assert set(real) == {"columns", "ARIMA", "HA", "TSJT (GWN)"}  # both skipped, the rest built
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(cut) in w and "cut off or not JSON" in w and "delete it and rerun" in w for w in warnings)
    assert any(str(diverged) in w and "MAE, RMSE are not finite" in w for w in warnings)


def test_a_record_with_a_missing_metric_is_skipped_not_averaged_as_zero(results, tmp_path, caplog):
    path = write_record(results, "TPB", "GWN", 0, 2.0, rmse=3.0)
    record = json.loads(open(path).read())
    record["metrics"]["step1"]["MAE"] = None  # nothing scored at step 1
    write_result(os.path.dirname(path), record)
    markdown = board(["--root", str(results), "--out", str(tmp_path / "board")])["md"].read_text()
    assert "TPB" not in markdown and any(path in r.getMessage() for r in caplog.records)


def test_input_mistakes_end_in_one_line_and_exit_status_2(tmp_path, capsys):
    assert main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "board")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --root {str(tmp_path / 'nowhere')!r} is not a folder; give the folder holding the runs "
        "(e.g. checkpoints)"
    ]
    (tmp_path / "empty").mkdir()
    assert main(["--root", str(tmp_path / "empty"), "--out", str(tmp_path / "board")]) == 2
    assert capsys.readouterr().err.startswith("error: no usable test_metrics.json under")
    assert not (tmp_path / "board").exists()
    with pytest.raises(ConfigError):  # --debug: the traceback
        main(["--root", str(tmp_path / "empty"), "--debug"])


def test_the_command_line_exits_0_after_writing_the_board(results, tmp_path):
    assert main(["--root", str(results), "--out", str(tmp_path / "board")]) == 0
    assert (tmp_path / "board" / "leaderboard.md").is_file()


def test_result_files_are_written_whole_or_not_at_all(tmp_path):
    path = write_result(str(tmp_path), {"run": 1})
    theirs = tmp_path / "test_metrics.json.99999.tmp"  # another process writing the same file at this moment
    theirs.write_text("half of their record")
    with pytest.raises(TypeError):
        write_result(str(tmp_path), {"run": object()})  # fails half-way through writing
    assert json.loads(open(path).read()) == {"run": 1}
    assert sorted(os.listdir(tmp_path)) == ["test_metrics.json", theirs.name]
    assert theirs.read_text() == "half of their record"


def test_convergence_reads_how_flat_a_curve_ends():
    from tsjt_basicts.curves import convergence

    flat = convergence([[100, 1.0], [200, 0.5], [300, 0.41], [400, 0.4], [500, 0.4], [600, 0.4]])
    falling = convergence([[100, 1.0], [200, 0.9], [300, 0.8], [400, 0.7], [500, 0.6], [600, 0.5]])
    assert flat["final_loss"] == 0.4 and flat["drop_last_third_%"] == pytest.approx(0.0)
    assert falling["drop_last_third_%"] == pytest.approx(40.0)
    assert convergence([[1, 1.0]]) == {}


def budget(steps: int) -> dict:
    return {"budget": {"steps": steps, "target_batch": 64}, "training": {"lr": 2e-4}, "data_digest": "abc"}


def test_runs_of_other_settings_are_rows_of_their_own_never_averaged_or_replaced(tmp_path):
    root = tmp_path / "checkpoints"
    for steps, mae in ((6, 9.0), (600, 2.0)):  # a smoke run written after a cpu run of the same seeds
        for seed in (0, 1):
            write_record(root, "TSJT", "GWN", seed, mae + seed, rmse=5.0, folder=f"TSJT_GWN_{steps}",
                         settings=budget(steps))
    write_record(root, "TSJT", "GWN", 0, 4.0, rmse=5.0, folder="TSJT_GWN_lr", settings={**budget(600), "training": {
        "lr": 1e-3}})
    write_record(root, "HA", "-", 0, 3.0, rmse=4.0, settings={"config": {"target_days": 3.0}})
    paths = board(["--root", str(root), "--out", str(tmp_path / "board")])
    (real,) = tables(paths["md"].read_text()).values()
    assert {label: cells[:5:4] for label, cells in real.items() if label != "columns"} == {
        "HA": ["1", "<u>3.00</u>"],
        "TSJT (GWN) [budget.steps=6, training.lr=0.0002]": ["2", "9.50 ± 0.71"],
        "TSJT (GWN) [budget.steps=600, training.lr=0.0002]": ["2", "**2.50 ± 0.71**"],
        "TSJT (GWN) [budget.steps=600, training.lr=0.001]": ["1", "4.00"],
    }
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [(r["method"], r["settings"], r["n_seeds"]) for r in rows][1:] == [
        ("TSJT", "budget.steps=6, training.lr=0.0002", "2"), ("TSJT", "budget.steps=600, training.lr=0.0002", "2"),
        ("TSJT", "budget.steps=600, training.lr=0.001", "1"),
    ]
    assert len({r["settings_digest"] for r in rows}) == 4


def test_a_grids_seeds_are_one_row_whatever_ratio_each_chose(tmp_path):
    for seed, ratio in enumerate((0.1, 0.5)):
        grid = {"ratios": [0.1, 0.5], "val_MAE": [1.0, 1.0], "chosen": ratio}
        settings = {**budget(600), "training": {"lr": 2e-4, "source_ratio": ratio}, "source_ratio_grid": grid}
        write_record(tmp_path, "TSJT", "GWN", seed, 2.0 + seed, rmse=3.0, settings=settings)
    (real,) = tables(board(["--root", str(tmp_path), "--out", str(tmp_path / "board")])["md"].read_text()).values()
    assert real["TSJT (GWN)"][:5:4] == ["2", "2.50 ± 0.71"]


FIELD_MISTAKES = {  # a record field the leaderboard reads, of another type: skipped, the field named
    "method": (5, "its method is 5, not text"),
    "protocol": (7, "its protocol is 7, not text"),
    "backbone": (None, "its backbone is None, not text"),
    "task": (None, "its task is None, not text"),
    "seed": ("zero", "its seed is 'zero', not a whole number"),
    "interval_minutes": (True, "its interval_minutes is True, not a whole number"),
    "diagnostics": ("bad", "its diagnostics is 'bad', not a table of numbers"),
    "compute": ({"target_steps": "600"}, "its compute is {'target_steps': '600'}, not a table of numbers"),
    "train_curve": ([[1, "x"]], "its train_curve is not a list of [step, loss] pairs"),
}


@pytest.mark.parametrize("key, value, expected", [(k, *v) for k, v in FIELD_MISTAKES.items()], ids=FIELD_MISTAKES)
def test_a_record_field_of_another_type_is_skipped_naming_the_field(results, tmp_path, caplog, key, value, expected):
    path = write_record(results, "TPB", "GWN", 0, 2.0, rmse=3.0)
    write_result(os.path.dirname(path), {**json.loads(open(path).read()), key: value})
    assert main(["--root", str(results), "--out", str(tmp_path / "board")]) == 0
    assert "TPB" not in (tmp_path / "board" / "leaderboard.md").read_text()
    assert any(path in r.getMessage() and expected in r.getMessage() for r in caplog.records), caplog.text


def test_a_negative_error_is_skipped_not_ranked_best(results, tmp_path, caplog):
    path = write_record(results, "TPB", "GWN", 0, -1.0, rmse=3.0)
    markdown = board(["--root", str(results), "--out", str(tmp_path / "board")])["md"].read_text()
    assert "TPB" not in markdown
    assert any(path in r.getMessage() and "MAE / RMSE is negative" in r.getMessage() for r in caplog.records)


def test_output_and_readme_mistakes_end_in_one_line_before_anything_is_written(results, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    out = ["--out", str(tmp_path / "board")]
    mistakes = {
        ("--out", str(tmp_path / "notes.txt")): f"error: --out {str(tmp_path / 'notes.txt')!r} is a file, not a folder",
        ("--out", str(tmp_path / "notes.txt" / "b")): f"lies under {tmp_path / 'notes.txt'}, which is a file",
        (*out, "--readme", str(readme)): "needs one '<!-- leaderboard:overview -->' line followed by one",
        (*out, "--readme", str(tmp_path)): f"error: --readme {str(tmp_path)!r} is a folder; give the Markdown file",
        (*out, "--readme", str(tmp_path / "nope.md")): "does not exist; give the Markdown file holding the markers",
        (*out, "--rot", "x"): "error: unrecognized arguments: --rot x; see python -m tsjt_basicts.leaderboard --help",
    }
    for options, expected in mistakes.items():
        assert main(["--root", str(results), *options]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert expected in line
    assert sorted(os.listdir(tmp_path)) == ["README.md", "checkpoints", "notes.txt"]  # no board made
    assert readme.read_text() == "no markers here\n" and (tmp_path / "notes.txt").read_text() == "mine"
