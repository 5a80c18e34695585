"""``prepare`` from CSV files, and every bad input ending in one ``error:`` line with nothing touched."""
import json
import re

import numpy as np
import pytest

import tsjt_basicts.data.prepare as prepare
from tsjt_basicts.data.tasks import load_city
from tsjt_basicts.data.city import City
from tsjt_basicts.data.formats.stgfsl import save_stgfsl
from tsjt_basicts.errors import ConfigError, UserError

GOOD = """timestamp,S1,S2,S3
2020-01-06 06:10,51.0,,48.5
2020-01-06 06:20,50.2,NA,47.9
2020-01-06 06:40,49.0,3,47.0
2020-01-06 06:50,48.0,n/a,46.0
"""


def fake_stgfsl(folder, nodes: int = 5, steps: int = 24 * 6) -> City:
    city = City("x", np.random.default_rng(0).uniform(1, 70, (steps, nodes, 2)), np.eye(nodes), 60, 24)
    save_stgfsl(city, folder)
    return city


def run(*argv) -> int:
    return prepare.main([str(a) for a in argv])


@pytest.fixture
def files(tmp_path):
    """A CSV city's three files, and an output folder holding a README and a prepared city."""
    source = tmp_path / "in"
    source.mkdir()
    (source / "series.csv").write_text(GOOD)
    (source / "sensors.csv").write_text("id,lat,lon\nS3,-37.80,145.00\nS1,-37.81,145.01\nS2,,\n")
    (source / "edges.csv").write_text("from,to,weight\nS1,S2,0.5\nS2,S3,\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("keep me")
    assert run("--city", "other", "--from", source, "--out", out) == 0
    return source, out


def snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_csv_folder_is_detected_prepared_and_loads_with_its_calendar_gap_and_ids(files):
    source, out = files
    city = load_city("other", data_root=out)
    assert (city.start_day_of_week, city.start_step_of_day, city.interval_minutes) == (0, 37, 10)
    assert np.isnan(city.series[2, :, 0]).all() and city.series[3, 0, 0] == 49.0
    assert city.graph_source == "given" and city.adjacency[0, 1] == 0.5 and not city.zero_is_missing
    assert np.load(out / "other" / "data.npz")["node_ids"].tolist() == ["S1", "S2", "S3"]
    assert json.loads((out / "other" / "meta.json").read_text())["format"] == "csv"


def test_a_csv_file_given_as_from_with_options_for_its_companions(files, tmp_path):
    source, out = files
    (source / "series.csv").rename(tmp_path / "counts.csv")
    argv = ("--city", "mine", "--from", tmp_path / "counts.csv", "--out", out, "--zero-is-missing")
    assert run(*argv, "--edges", source / "edges.csv", "--steps-per-day", 144, "--start", "2020-01-06T06:10") == 0
    city = load_city("mine", data_root=out)
    assert city.zero_is_missing and city.graph_source == "given" and city.locations is None


BAD_INPUTS = {
    "empty city": (["--city", ""], "not a plain folder name"),
    "dot": (["--city", "."], "not a plain folder name"),
    "dot dot": (["--city", ".."], "not a plain folder name"),
    "outside": (["--city", "../x"], "not a plain folder name"),
    "slash": (["--city", "a/b"], "not a plain folder name"),
    "backslash": (["--city", "a\\b"], "not a plain folder name"),
    "hidden": (["--city", ".mine"], "not a plain folder name"),
    "absolute": (["--city", "{tmp}/x"], "not a plain folder name"),
    "shared city": (["--city", "beijing-metro"], "shared real city.*pick another name"),
    "shared city in capitals": (["--city", "Montevideo"], "shared real city"),
    "paper city misspelt": (["--city", "metr-la"], "spelled METR-LA"),
    "paper city options": (["--city", "METR-LA", "--interval-minutes", "0"], "METR-LA is a paper city.*drop those"),
    "no source": (["--from", "{tmp}/absent"], "--from .*absent does not exist"),
    "out is a file": (["--out", "{out}/README.md"], "--out .*README.md is a file"),
    "city is the readme": (["--city", "README.md"], "exists and is not a folder"),
    "unknown format": (["--format", "xlsx"], "invalid choice: 'xlsx'"),
    "unknown option": (["--colour", "red"], "unrecognized arguments"),
    "steps per day": (["--steps-per-day", "100"], "--steps-per-day 100 disagrees with .*, which says 144"),
    "interval": (["--interval-minutes", "5"], "--interval-minutes 5 disagrees"),
    "start": (["--start", "2020-01-06"], "--start .* disagrees"),
    "bad start": (["--start", "soon"], "--start 'soon' is not an ISO time"),
    "sensors for another format": (["--format", "stgfsl", "--sensors", "{src}/sensors.csv"], "belongs to the CSV"),
    "absent edges": (["--edges", "{src}/nope.csv"], "--edges .*nope.csv is not a file"),
    "bad cell": (["--from", "{tmp}/bad.csv"], r"bad.csv, line 3, column 'S2': 'x' is not a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_ends_in_one_error_line_and_touches_nothing(files, tmp_path, capsys, case):
    source, out = files
    (tmp_path / "bad.csv").write_text(GOOD.replace(",NA,", ",x,"))
    given, message = BAD_INPUTS[case]
    defaults = {"--city": "other", "--from": str(source), "--out": str(out)}
    options = dict(zip(given[::2], given[1::2], strict=True))
    argv = [part for key, value in {**defaults, **options}.items() for part in (key, value)]
    argv = [part.format(tmp=tmp_path, out=out, src=source) for part in argv]
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert prepare.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert re.search(message, captured.err)
    assert snapshot(tmp_path) == before


def test_a_folder_of_other_files_is_never_replaced(files, tmp_path, capsys):
    source, out = files
    (out / "photos").mkdir()
    (out / "photos" / "cat.jpg").write_bytes(b"cat")
    assert run("--city", "photos", "--from", source, "--out", out) == 2
    assert "holds other files than a prepared city's (cat.jpg)" in capsys.readouterr().err
    assert (out / "photos" / "cat.jpg").read_bytes() == b"cat"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--interval-minutes", "7"], "--interval-minutes 7 does not divide a day"),
        (["--interval-minutes", "0"], "--interval-minutes 0 does not divide a day"),
        (["--interval-minutes", "60", "--steps-per-day", "25"], "--steps-per-day 25 x 60 minutes is not a day"),
        (["--interval-minutes", "60", "--steps-per-day", "-3"], "--steps-per-day -3 x 60 minutes"),
    ],
)
def test_stgfsl_calendars_that_do_not_fit_a_day_are_refused(tmp_path, capsys, options, message):
    fake_stgfsl(tmp_path / "in")
    assert run("--city", "mine", "--from", tmp_path / "in", "--out", tmp_path / "out", *options) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_implausible_values_are_refused_before_anything_is_written(tmp_path, capsys):
    series = fake_stgfsl(tmp_path / "in").series.copy()
    series[4, 2, 0] = 1e30
    np.save(tmp_path / "in" / "dataset.npy", series)
    assert run("--city", "mine", "--from", tmp_path / "in", "--interval-minutes", 60, "--out", tmp_path / "out") == 2
    assert "the first 1e+30 at step 4, node 2" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_debug_shows_the_error_itself(files):
    source, out = files
    with pytest.raises(ConfigError, match="not a plain folder name"):
        run("--city", "..", "--from", source, "--out", out, "--debug")
    assert issubclass(ConfigError, UserError)
