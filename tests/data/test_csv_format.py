import numpy as np
import pytest

from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.formats.csv_format import CsvFiles, find_csv_files, load_csv, read_series_csv

GOOD = """timestamp,S1,S2,S3
2020-01-06 06:10,51.0,,48.5
2020-01-06 06:20,50.2,NA,47.9
2020-01-06 06:40,49.0,3,47.0
2020-01-06 06:50,48.0,n/a,46.0
"""


def write(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def load(path, **files):
    return load_csv(CsvFiles(path, **files), name="mine")


def test_a_gap_becomes_a_nan_row_in_place_and_the_calendar_comes_from_the_first_stamp(tmp_path):
    edges = write(tmp_path, "edges.csv", "from,to\nS1,S2\n")
    loaded = load(write(tmp_path, "series.csv", GOOD), edges=edges)
    values = loaded.city.series[..., 0]
    assert values.shape == (5, 3) and loaded.notes == ("1 missing time(s) filled with NaN rows",)
    assert np.isnan(values[2]).all()  # 06:30 is missing: a NaN row at step 2
    np.testing.assert_array_equal(values[3], [49.0, 3.0, 47.0])  # 06:40 stays at step 3
    assert np.isnan(values[[0, 1, 4], 1]).all()  # empty, NA and n/a cells
    city = loaded.city
    assert (city.interval_minutes, city.steps_per_day) == (10, 144)
    assert (city.start_day_of_week, city.start_step_of_day) == (0, 37)  # a Monday, 06:10 = step 37
    assert loaded.start == "2020-01-06T06:10:00" and loaded.sensor_ids == ["S1", "S2", "S3"]
    assert not city.zero_is_missing


def test_the_time_column_may_be_named_anywhere_and_semicolons_separate_spreadsheet_exports(tmp_path):
    text = "S1;Date;S2\n1;2020-01-07T00:00;2\n3;2020-01-07T01:00;4\n5;2020-01-07T02:00;6\n"
    series = read_series_csv(write(tmp_path, "x.csv", text))
    assert series.sensor_ids == ["S1", "S2"] and series.interval_minutes == 60
    np.testing.assert_array_equal(series.values, [[1, 2], [3, 4], [5, 6]])


def test_sensors_are_matched_by_id_and_edges_give_the_graph_with_self_loops(tmp_path):
    series = write(tmp_path, "series.csv", GOOD)
    sensors = write(tmp_path, "sensors.csv", "id,lat,lon\nS3,-37.80,145.00\nS1,-37.81,145.01\nS2,,\n")
    edges = write(tmp_path, "edges.csv", "from,to,weight\nS1,S2,0.5\nS2,S3,\n")
    files = find_csv_files(tmp_path)
    assert files == CsvFiles(series, sensors, edges)
    city = load_csv(files, name="mine").city
    np.testing.assert_allclose(city.locations[[0, 2]], [[-37.81, 145.01], [-37.80, 145.00]])
    assert np.isnan(city.locations[1]).all()
    np.testing.assert_array_equal(city.adjacency, [[1, 0.5, 0], [0, 1, 1], [0, 0, 1]])
    assert city.graph_source == "given"
    kernel = load(series, sensors=sensors).city  # no edges: a kernel of the coordinates
    assert kernel.graph_source == "gaussian-kernel" and kernel.adjacency[1].sum() == 1  # S2: position unknown


def test_without_graph_files_the_graph_is_built_from_correlations(tmp_path):
    rng = np.random.default_rng(0)
    stamps = [f"2021-03-{1 + i // 24:02d} {i % 24:02d}:00" for i in range(24 * 20)]
    rows = "\n".join(f"{t},{a:.3f},{b:.3f}" for t, (a, b) in zip(stamps, rng.uniform(1, 9, (len(stamps), 2))))
    city = load(write(tmp_path, "s.csv", "time,a,b\n" + rows + "\n")).city
    assert city.graph_source == "correlation" and city.num_steps == 24 * 20


BAD_SERIES = {
    "duplicate": ("t,a\n2020-01-01 00:00,1\n2020-01-01 00:10,2\n2020-01-01 00:10,3\n", r"line 4: .* repeats .*one row"),
    "unsorted": ("t,a\n2020-01-01 00:10,1\n2020-01-01 00:00,2\n2020-01-01 00:20,3\n", r"line 3: .*back in time.*sort"),
    "irregular": (
        "t,a\n2020-01-01 00:00,1\n2020-01-01 00:10,2\n2020-01-01 00:20,2\n2020-01-01 00:25,3\n",
        r"line 5: .*off the 10-minute grid.*resample",
    ),
    "interval": ("t,a\n2020-01-01 00:00,1\n2020-01-01 00:07,2\n2020-01-01 00:14,3\n", r"mostly 7 minutes apart"),
    "seconds": ("t,a\n2020-01-01 00:00:00,1\n2020-01-01 00:00:30,2\n", r"mostly 0.5 minutes apart"),
    "stamp": ("t,a\n2020-01-01 00:00,1\n01/02/2020 00:10,2\n", r"line 3: time '01/02/2020 00:10' is not an ISO 8601"),
    "empty stamp": ("t,a\n2020-01-01 00:00,1\n,2\n", r"line 3: the time is empty"),
    "text cell": ("t,a,b\n2020-01-01 00:00,1,2\n2020-01-01 00:10,1,fast\n", r"line 3, column 'b': 'fast' is not a"),
    "decimal comma": ("t;a\n2020-01-01 00:00;1,5\n2020-01-01 00:10;2\n", r"'1,5' is not a number; .*\(1.5, not 1,5\)"),
    "inf cell": ("t,a\n2020-01-01 00:00,1\n2020-01-01 00:10,inf\n", r"line 3, column 'a': 'inf' is not a number"),
    "ragged": ("t,a,b\n2020-01-01 00:00,1,2\n2020-01-01 00:10,1\n", r"line 3: 2 cells, the header has 3"),
    "unnamed": ("t,a,\n2020-01-01 00:00,1,2\n2020-01-01 00:10,1,2\n", r"column 3 of the header has no name"),
    "repeated": ("t,a,a\n2020-01-01 00:00,1,2\n2020-01-01 00:10,1,2\n", r"header repeats \['a'\]"),
    "no sensor": ("t\n2020-01-01 00:00\n2020-01-01 00:10\n", r"no sensor column"),
    "one row": ("t,a\n2020-01-01 00:00,1\n", r"needs at least two times"),
    "empty": ("", r"is empty"),
    "no value": ("t,a,b\n2020-01-01 00:00,,NA\n2020-01-01 00:10,,\n", r"holds no value"),
    "two time columns": ("date,time,a\n2020-01-01,00:00,1\n", r"several time columns.*merge"),
    "mostly gaps": ("t,a\n2020-01-01 00:00,1\n2020-01-01 00:10,2\n2021-01-01 00:00,3\n", r"most of them gaps.*line 4"),
    "off the day grid": ("t,a\n2020-01-01 06:03,1\n2020-01-01 06:13,2\n", r"off its 10-minute grid"),
    "daylight saving ends": (
        "t,a\n2020-10-25 02:30,1\n2020-10-25 02:40,1\n2020-10-25 02:50,1\n2020-10-25 02:00,1\n2020-10-25 02:10,1\n",
        r"line 5: .* follows .*02:50.*line 4.*an hour occurs twice.*daylight saving.*standard time or UTC",
    ),
    "daylight saving ends, hourly": (
        "t,a\n2020-11-01 00:00,1\n2020-11-01 01:00,2\n2020-11-01 01:00,3\n2020-11-01 02:00,4\n",
        r"line 4: .*an hour occurs twice.*daylight saving",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SERIES))
def test_bad_series_files_are_refused_naming_the_place_and_the_fix(tmp_path, case):
    text, message = BAD_SERIES[case]
    edges = write(tmp_path, "edges.csv", "from,to\n")
    with pytest.raises(DataError, match=message):
        load(write(tmp_path, "s.csv", text), edges=edges)


def test_a_sensor_without_any_value_is_noted(tmp_path):
    edges = write(tmp_path, "edges.csv", "from,to\n")
    loaded = load(write(tmp_path, "s.csv", GOOD.replace(",3,", ",,")), edges=edges)
    assert loaded.notes[-1] == "1 sensor(s) without any value (S2): drop or fill them"


def test_non_utf8_text_is_refused(tmp_path):
    (tmp_path / "s.csv").write_bytes("t,Straße\n2020-01-01 00:00,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_series_csv(tmp_path / "s.csv")


BAD_GRAPH_FILES = {
    "unknown sensor": ("sensors", "id,lat,lon\nS1,1,1\nS2,1,1\nS3,1,1\nS9,1,1\n", r"line 5: sensor 'S9' is not a"),
    "missing sensor": ("sensors", "id,lat,lon\nS1,1,1\nS2,1,1\n", r"1 sensor\(s\) of the series are not listed.*S3"),
    "twice listed": ("sensors", "id,lat,lon\nS1,1,1\nS2,1,1\nS3,1,1\nS1,2,2\n", r"\['S1'\] are listed more than once"),
    "no lat": ("sensors", "id,latitude,lon\nS1,1,1\n", r"no column 'lat'"),
    "projected": ("sensors", "id,lat,lon\nS1,6140000,580000\nS2,1,1\nS3,1,1\n", r"line 2: .*not \(lat, lon\) in deg"),
    "edge to unknown": ("edges", "from,to\nS1,S7\n", r"line 2: sensor 'S7' is not a sensor column"),
    "negative weight": ("edges", "from,to,weight\nS1,S2,-1\n", r"line 2: weight -1.0 < 0"),
    "text weight": ("edges", "from,to,weight\nS1,S2,far\n", r"column 'weight': 'far' is not a number"),
    "repeated edge": ("edges", "from,to\nS1,S2\nS2,S3\nS1,S2\n", r"line 4: the link S1 -> S2 is listed before"),
    "no to": ("edges", "from,target\nS1,S2\n", r"no column 'to'"),
    "huge weight": ("edges", "from,to,weight\nS1,S2,1\nS2,S3,1e300\n", r"edges.csv, line 3: weight 1e\+300 is beyond"),
}


@pytest.mark.parametrize("case", sorted(BAD_GRAPH_FILES))
def test_bad_sensor_and_edge_files_are_refused(tmp_path, case):
    kind, text, message = BAD_GRAPH_FILES[case]
    series = write(tmp_path, "series.csv", GOOD)
    given = {kind: write(tmp_path, f"{kind}.csv", text)}
    if kind == "sensors":
        given["edges"] = write(tmp_path, "edges.csv", "from,to\n")
    with pytest.raises(DataError, match=message):
        load(series, **given)


def test_a_folder_with_several_csv_files_asks_for_the_series_file(tmp_path):
    write(tmp_path, "a.csv", GOOD)
    write(tmp_path, "b.csv", GOOD)
    with pytest.raises(DataError, match=r"several CSV files \(a.csv, b.csv\); pass the series file itself"):
        find_csv_files(tmp_path)
    write(tmp_path, "series.csv", GOOD)
    assert find_csv_files(tmp_path).series.name == "series.csv"
