"""``prepare``'s checks (:mod:`tsjt_basicts.data.prepare_checks`): each bad option or input ends in
one ``error:`` line before anything is written; the calendar options meet the files' calendar."""
import re

import numpy as np
import pytest

import tsjt_basicts.data.prepare as prepare
from tsjt_basicts.data.city import City
from tsjt_basicts.data.formats.basicts_format import save_basicts
from tsjt_basicts.data.split import Protocol
from tsjt_basicts.data.tasks import SHARED_DATASETS_ENV, load_city, load_task

HOURS = 24 * 10


def write_npz(folder, **arrays):
    folder.mkdir(parents=True, exist_ok=True)
    values = 50 + np.random.default_rng(0).normal(size=(HOURS, 3)).astype(np.float32)
    np.savez(folder / "data.npz", **{"values": values, "interval_minutes": 60, "steps_per_day": 24, **arrays})
    return folder


def snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(tmp_path, capsys, *argv) -> str:
    """The one error line of a refused run, after checking that nothing under ``tmp_path`` changed."""
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert prepare.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert snapshot(tmp_path) == before
    return err


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A shared reference-data folder of the test's own, as $TSJT_SHARED_DATASETS."""
    root = tmp_path / "shared" / "datasets"
    (root / "real").mkdir(parents=True)
    (root / "README.md").write_text("reference")
    monkeypatch.setenv(SHARED_DATASETS_ENV, str(root))
    return root


@pytest.mark.parametrize("out", ["{root}", "{root}/real", "{root}/../"])
def test_an_out_in_the_shared_reference_data_is_refused(tmp_path, capsys, shared, out):
    source = write_npz(tmp_path / "in")
    err = refused(tmp_path, capsys, "--city", "mine", "--from", source, "--out", out.format(root=shared))
    assert "the shared reference data" in err and "pass a folder of your own" in err
    assert prepare.main(["--city", "mine", "--from", str(source), "--out", str(tmp_path / "out")]) == 0


def test_a_from_inside_the_folder_to_replace_is_refused(tmp_path, capsys):
    source = write_npz(tmp_path / "data" / "mine")
    err = refused(tmp_path, capsys, "--city", "mine", "--from", source, "--out", tmp_path / "data")
    assert "the folder this run replaces" in err


def test_csv_only_options_are_refused_for_a_detected_npz(tmp_path, capsys):
    source = write_npz(tmp_path / "in")
    (tmp_path / "sensors.csv").write_text("id,lat,lon\n0,1,2\n")
    err = refused(tmp_path, capsys, "--city", "m", "--from", source, "--sensors", tmp_path / "sensors.csv")
    assert "--sensors belongs to the CSV layout" in err and "read as generic" in err


@pytest.mark.parametrize(
    ("options", "arrays", "message"),
    [
        (["--interval-minutes", "5"], {}, "--interval-minutes 5 disagrees with .*, which says 60"),
        (["--steps-per-day", "12"], {}, "--steps-per-day 12 disagrees with .*, which says 24"),
        (["--start", "2020-01-07T00:00"], {"start": np.str_("2020-01-06T00:00")}, "which starts at 2020-01-06"),
        (["--start", "2020-01-06T00:30"], {}, "--start 2020-01-06T00:30 is off the 60-minute grid of"),
    ],
)
def test_calendar_options_that_contradict_an_npz_are_refused(tmp_path, capsys, options, arrays, message):
    source = write_npz(tmp_path / "in", **arrays)
    err = refused(tmp_path, capsys, "--city", "m", "--from", source, "--out", tmp_path / "out", *options)
    assert re.search(message, err)


def test_calendar_options_that_agree_pass_and_start_fills_in_a_missing_calendar(tmp_path):
    source = write_npz(tmp_path / "in")
    argv = ["--city", "m", "--from", str(source), "--out", str(tmp_path / "out"), "--interval-minutes", "60"]
    assert prepare.main([*argv, "--steps-per-day", "24", "--start", "2020-01-08T06:00"]) == 0  # a Wednesday
    city = load_city("m", data_root=tmp_path / "out")
    assert (city.start_day_of_week, city.start_step_of_day) == (2, 6)


@pytest.mark.parametrize(
    ("values", "options", "message"),
    [
        (np.full((HOURS, 3), np.nan, np.float32), [], "holds no observed value (every value is NaN)"),
        (np.zeros((HOURS, 3), np.float32), ["--zero-is-missing"], "prepare with --no-zero-is-missing"),
    ],
)
def test_a_city_without_an_observed_value_is_refused(tmp_path, capsys, values, options, message):
    source = write_npz(tmp_path / "in", values=values)
    assert message in refused(tmp_path, capsys, "--city", "m", "--from", source, "--out", tmp_path / "o", *options)


def test_a_short_city_is_prepared_and_loads_as_a_source_but_not_as_a_target(tmp_path):
    write_npz(tmp_path / "in" / "long")
    daily = "date,A,B\n" + "".join(f"2020-01-{day:02d},{day},{2 * day + day % 3}\n" for day in range(1, 31))
    (tmp_path / "in" / "daily.csv").write_text(daily)
    out = tmp_path / "out"
    assert prepare.main(["--city", "long", "--from", str(tmp_path / "in" / "long"), "--out", str(out)]) == 0
    assert prepare.main(["--city", "daily", "--from", str(tmp_path / "in" / "daily.csv"), "--out", str(out)]) == 0
    target, (source,) = load_task({"target": "long", "sources": ["daily"], "data_root": str(out)})
    assert source.graph_source == "correlation" and source.adjacency[0, 1] > 0  # built on its whole series
    with pytest.raises(prepare.DataError, match="target 'daily'"):
        load_task({"target": "daily", "sources": ["long"], "data_root": str(out)}, protocol=Protocol())


def test_start_must_agree_with_the_weekday_and_time_that_basicts_features_carry(tmp_path, capsys):
    values = 50 + np.random.default_rng(0).normal(size=(HOURS, 3))
    save_basicts(City("b", values, np.eye(3), 60, 24, start_day_of_week=2, start_step_of_day=6), tmp_path / "in")
    argv = ("--city", "b", "--from", tmp_path / "in", "--out", tmp_path / "out")
    assert "step 6 of a Wednesday" in refused(tmp_path, capsys, *argv, "--start", "2020-01-09T06:00")
    assert prepare.main([str(a) for a in argv] + ["--start", "2020-01-08T06:00"]) == 0
    assert str(np.load(tmp_path / "out" / "b" / "data.npz")["start"]) == "2020-01-08T06:00"
