import json
import pickle
import re
import warnings

import numpy as np
import pytest

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.digests import KnownFile, sha256_of, verify_file
from tsjt_basicts.data.formats.basicts_format import load_basicts, save_basicts
from tsjt_basicts.data.formats.dcrnn import load_dcrnn, save_adjacency_pickle, save_dcrnn
from tsjt_basicts.data.formats.generic import load_generic, save_generic
from tsjt_basicts.data.formats.stgfsl import load_stgfsl, save_stgfsl


def make_city(nodes: int = 4, days: int = 5, interval: int = 60, channels: int = 1, **kw) -> City:
    rng = np.random.default_rng(0)
    steps_per_day = 24 * 60 // interval
    series = rng.uniform(1, 60, (days * steps_per_day, nodes, channels)).astype(np.float32)
    series[3, 1, 0] = np.nan
    adjacency = rng.uniform(0, 1, (nodes, nodes)) * (rng.uniform(size=(nodes, nodes)) > 0.5) + np.eye(nodes)
    return City("c", series, adjacency, interval, steps_per_day, **kw)


def assert_same_data(loaded: City, city: City) -> None:
    np.testing.assert_array_equal(loaded.series[..., 0], city.series[..., 0])
    np.testing.assert_allclose(loaded.adjacency, city.adjacency)
    assert (loaded.interval_minutes, loaded.steps_per_day) == (city.interval_minutes, city.steps_per_day)


# ST-GFSL


def test_stgfsl_round_trip_keeps_channel_0_or_all(tmp_path):
    city = make_city(channels=2)
    save_stgfsl(city, tmp_path)
    loaded = load_stgfsl(tmp_path, interval_minutes=60, name="c")
    assert_same_data(loaded, city)
    assert loaded.series.shape[2] == 1 and loaded.zero_is_missing
    assert load_stgfsl(tmp_path, 60, all_channels=True).series.shape[2] == 2
    assert not list(tmp_path.glob(".*partial"))


def test_stgfsl_missing_graph_names_the_file_and_what_goes_there(tmp_path):
    save_stgfsl(make_city(), tmp_path)
    (tmp_path / "matrix.npy").unlink()
    with pytest.raises(DataError, match=r"matrix.npy not found: put the ST-GFSL graph"):
        load_stgfsl(tmp_path, 60)


def test_stgfsl_graph_of_other_sensors_or_with_nan_is_refused(tmp_path):
    save_stgfsl(make_city(), tmp_path)
    np.save(tmp_path / "matrix.npy", np.eye(3))
    with pytest.raises(DataError, match=r"\(3, 3\) but .*dataset.npy has 4 nodes"):
        load_stgfsl(tmp_path, 60)
    graph = np.eye(4)
    graph[0, 1] = np.nan
    np.save(tmp_path / "matrix.npy", graph)
    with pytest.raises(DataError, match="NaN/inf weights; replace them by 0"):
        load_stgfsl(tmp_path, 60)


def test_truncated_npy_is_reported_as_damaged(tmp_path):
    save_stgfsl(make_city(), tmp_path)
    data = (tmp_path / "dataset.npy").read_bytes()
    (tmp_path / "dataset.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or damaged"):
        load_stgfsl(tmp_path, 60)


# DCRNN


def test_dcrnn_round_trip_derives_the_calendar_from_timestamps(tmp_path):
    city = make_city(interval=5, days=2)
    save_dcrnn(city, tmp_path / "x.h5", tmp_path / "adj_mx.pkl", start="2012-03-01", sensor_ids=["a", "b", "c", "d"])
    loaded = load_dcrnn(tmp_path / "x.h5", tmp_path / "adj_mx.pkl")
    assert_same_data(loaded, city)
    assert loaded.name == "x" and loaded.start_day_of_week == 3  # 2012-03-01 was a Thursday


def test_dcrnn_graph_is_reordered_to_the_h5_columns(tmp_path):
    city = make_city(interval=5, days=2)
    ids = ["a", "b", "c", "d"]
    save_dcrnn(city, tmp_path / "x.h5", tmp_path / "adj_mx.pkl", start="2012-03-01", sensor_ids=ids)
    order = [2, 0, 3, 1]
    save_adjacency_pickle(tmp_path / "adj_mx.pkl", city.adjacency[np.ix_(order, order)], [ids[i] for i in order])
    np.testing.assert_allclose(load_dcrnn(tmp_path / "x.h5", tmp_path / "adj_mx.pkl").adjacency, city.adjacency)


def test_dcrnn_graph_of_other_sensors_is_refused_with_the_ids(tmp_path):
    city = make_city(interval=5, days=2)
    save_dcrnn(city, tmp_path / "x.h5", tmp_path / "adj_mx.pkl", start="2012-03-01", sensor_ids=["a", "b", "c", "d"])
    save_adjacency_pickle(tmp_path / "adj_mx.pkl", city.adjacency, ["a", "b", "c", "zz"])
    with pytest.raises(
        DataError, match=r"1 series columns are not in the graph \(e.g. \['d'\]\).*use the adj_mx pickle"
    ):
        load_dcrnn(tmp_path / "x.h5", tmp_path / "adj_mx.pkl")


def test_dcrnn_unreadable_files_give_data_errors(tmp_path):
    (tmp_path / "x.h5").write_bytes(b"not hdf")
    with open(tmp_path / "adj_mx.pkl", "wb") as handle:
        pickle.dump({"not": "a graph"}, handle)
    with pytest.raises(DataError, match="not a readable single-table pandas HDF"):
        load_dcrnn(tmp_path / "x.h5", tmp_path / "adj_mx.pkl")
    with pytest.raises(DataError, match=r"y.h5 not found: put the DCRNN series"):
        load_dcrnn(tmp_path / "y.h5", tmp_path / "adj_mx.pkl")


# BasicTS


def test_basicts_round_trip_with_weekday_and_null_value(tmp_path):
    city = make_city(interval=15, start_day_of_week=6, zero_is_missing=True)
    save_basicts(city, tmp_path)
    desc = json.loads((tmp_path / "desc.json").read_text())
    assert desc["shape"] == [city.num_steps, 4, 3] and desc["frequency (minutes)"] == 15
    loaded = load_basicts(tmp_path)
    assert_same_data(loaded, city)
    assert loaded.start_day_of_week == 6 and loaded.zero_is_missing and loaded.name == "c"


def test_basicts_data_dat_of_another_shape_is_refused(tmp_path):
    save_basicts(make_city(), tmp_path)
    desc = json.loads((tmp_path / "desc.json").read_text())
    desc["shape"][1] = 5
    (tmp_path / "desc.json").write_text(json.dumps(desc))
    with pytest.raises(DataError, match="does not belong together"):
        load_basicts(tmp_path)


def test_basicts_1x_split_layout_is_read_as_one_series(tmp_path):
    city = make_city(interval=60, days=5)
    values, thirds = city.series[..., 0], [0, 70, 90, city.num_steps]
    for part, start, stop in zip(("train", "val", "test"), thirds, thirds[1:], strict=False):
        np.save(tmp_path / f"{part}_data.npy", values[start:stop])
    np.save(tmp_path / "train_timestamps.npy", np.array([[0.0, 2 / 7]], dtype=np.float32))
    meta = {
        "shape": list(values.shape),
        "frequency (minutes)": 60,
        "timestamps_description": ["time of day", "day of week"],
        "regular_settings": {"null_val": 0.0},
    }
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    save_adjacency_pickle(tmp_path / "adj_mx.pkl", city.adjacency, ["0", "1", "2", "3"])
    loaded = load_basicts(tmp_path)
    assert_same_data(loaded, city)
    assert loaded.start_day_of_week == 2 and loaded.zero_is_missing


def test_basicts_empty_folder_says_what_to_put_there(tmp_path):
    with pytest.raises(DataError, match="put data.dat \\+ desc.json"):
        load_basicts(tmp_path)


# generic data.npz


def test_generic_round_trip_keeps_calendar_and_missing_convention(tmp_path):
    city = make_city(interval=10, zero_is_missing=True, start_day_of_week=4)
    save_generic(city, tmp_path, meta={"quantity": "speed"})
    loaded = load_generic(tmp_path)
    assert_same_data(loaded, city)
    assert loaded.zero_is_missing and loaded.start_day_of_week == 4 and loaded.graph_source == "given"
    assert not load_generic(tmp_path / "data.npz", zero_is_missing=False).zero_is_missing


def write_npz(folder, **arrays):
    folder.mkdir(exist_ok=True)
    base = {"values": np.ones((48, 3), np.float32), "interval_minutes": 60, "steps_per_day": 24}
    np.savez(folder / "data.npz", **{**base, **arrays})
    return folder


def test_generic_without_graph_uses_coordinates_then_correlations(tmp_path):
    coords = np.array([[-37.80, 145.00], [-37.81, 145.01], [0.0, 0.0]])  # (0, 0): unknown position
    with_coords = load_generic(write_npz(tmp_path / "a", coords=coords))
    assert with_coords.graph_source == "gaussian-kernel"
    assert with_coords.adjacency[2].sum() == with_coords.adjacency[:, 2].sum() == 1.0  # self-loop only
    values = np.random.default_rng(0).normal(size=(24 * 40, 3)).astype(np.float32)
    city = load_generic(write_npz(tmp_path / "b", values=values, steps_per_day=24))
    assert city.graph_source == "correlation"
    save_generic(city, tmp_path / "c")
    assert "adj" not in np.load(tmp_path / "c" / "data.npz").files  # rebuilt on load, never frozen


def test_generic_bad_files_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="data.npz not found: put data.npz with values"):
        load_generic(tmp_path)
    np.savez(tmp_path / "data.npz", values=np.ones((5, 2)))
    with pytest.raises(DataError, match=r"lacks \['interval_minutes', 'steps_per_day'\]"):
        load_generic(tmp_path)
    write_npz(tmp_path, node_ids=np.array(["a", "b"]))
    with pytest.raises(DataError, match="2 node_ids for 3 series"):
        load_generic(tmp_path)
    write_npz(tmp_path, start=np.str_("2020-01-01T06:07"))
    with pytest.raises(DataError, match="off its 60-minute grid"):
        load_generic(tmp_path)
    write_npz(tmp_path, adj=np.eye(2))
    with pytest.raises(DataError, match=r"data.npz: city .*graph is \(2, 2\) but the series has 3 nodes"):
        load_generic(tmp_path)


def test_generic_road_distances_become_kernel_weights_keeping_every_link(tmp_path):
    distances = np.array([[0, 100.0, 0], [0, 0, 5000.0], [0, 0, 0]])
    city = load_generic(write_npz(tmp_path, adj=distances), adjacency_is_distance=True)
    assert city.graph_source == "gaussian-kernel"
    assert (city.adjacency > 0).sum() == 2 and city.adjacency[0, 1] > city.adjacency[1, 2]


# digests


def test_verify_file_reports_size_shape_and_digest_differences(tmp_path):
    path = tmp_path / "dataset.npy"
    np.save(path, np.zeros((10, 3, 2)))
    right = KnownFile("city/dataset.npy", path.stat().st_size, sha256_of(path), "the bundle", (10, 3, 2))
    verify_file(path, right)
    np.save(path, np.zeros((5, 3, 2)))
    with pytest.raises(
        DataError,
        match=r"city/dataset.npy: .* bytes, expected [\d,]+ \(shape \(5, 3, 2\), expected \(10, 3, 2\)\).*truncated",
    ):
        verify_file(path, right)
    np.save(path, np.ones((10, 3, 2)))
    with pytest.raises(DataError, match="has sha256 .* same size, other content"):
        verify_file(path, right)
    with pytest.raises(DataError, match="not found; get it from the bundle"):
        verify_file(tmp_path / "absent.npy", right)


def test_the_calendar_comes_from_the_start_time_and_no_weekday_is_invented(tmp_path):
    from tsjt_basicts.data.windows import time_features

    graph = np.eye(3)
    morning = load_generic(write_npz(tmp_path / "a", adj=graph, start=np.str_("2020-01-01T06:00")))  # a Wednesday
    assert (morning.start_day_of_week, morning.start_step_of_day) == (2, 6)
    features = time_features(morning)
    assert features[0].tolist() == pytest.approx([6 / 24, 2 / 7])
    assert features[18].tolist() == pytest.approx([0.0, 3 / 7])  # midnight: Thursday begins
    unknown = time_features(load_generic(write_npz(tmp_path / "b", adj=graph)))
    assert (unknown[:, 1] == 0).all() and unknown[1, 0] == pytest.approx(1 / 24)
    service = np.ones((36, 3), np.float32)  # an 18-hour service day of 1-hour steps, starting 06:00
    write_npz(tmp_path / "c", values=service, adj=graph, steps_per_day=18, start=np.str_("2020-01-04T06:00"))
    metro = load_generic(tmp_path / "c")
    assert (metro.start_day_of_week, metro.start_step_of_day) == (5, 0)  # the service day's first step


@pytest.mark.parametrize(
    ("written", "read"),
    [(False, False), ("false", False), ("FALSE", False), ("0", False), (0, False), (True, True), ("True", True)]
    + [("1", True), (None, False)],
)
def test_meta_booleans_are_read_strictly(tmp_path, written, read):
    folder = write_npz(tmp_path, adj=np.eye(3))
    (folder / "meta.json").write_text(json.dumps({"zero_is_missing": written}))
    assert load_generic(folder).zero_is_missing is read


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("zero_is_missing", "no", r"meta.json: zero_is_missing is 'no'; write true or false"),
        ("zero_is_missing", 2, r"zero_is_missing is 2; write true or false"),
        ("zero_is_missing", [], r"zero_is_missing is \[\]; write true or false"),
        ("start_day_of_week", 7, r"start_day_of_week is 7; it must be below 7"),
        ("start_day_of_week", "Monday", r"start_day_of_week is 'Monday'; write a whole number"),
        ("start_step_of_day", -1, r"start_step_of_day is -1; write a whole number"),
        ("kind", "Synthetic", r"kind is 'Synthetic'; write \"real\" or \"synthetic\""),
    ],
)
def test_meta_values_of_another_form_are_refused_naming_file_and_key(tmp_path, key, value, message):
    folder = write_npz(tmp_path, adj=np.eye(3))
    (folder / "meta.json").write_text(json.dumps({key: value}))
    with pytest.raises(DataError, match=message):
        load_generic(folder)


def test_meta_that_is_not_an_object_is_refused(tmp_path):
    folder = write_npz(tmp_path, adj=np.eye(3))
    (folder / "meta.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="holds list, not an object of settings"):
        load_generic(folder)


@pytest.mark.parametrize("bad", [1e30, -2e15, np.inf, -np.inf])
def test_implausible_values_are_refused_naming_count_step_and_node(bad):
    series = np.ones((48, 3), np.float32)
    series[5, 1] = np.nan
    series[7, 2] = bad
    series[9, 0] = bad
    message = r"city 'c': 2 value\(s\) are inf or beyond \+-1e\+15, the first .* at step 7, node 2; mark missing values"
    with pytest.raises(DataError, match=message):
        City("c", series, np.eye(3), 60, 24)
    series[[7, 9], [2, 0]] = 1e14  # large, yet inside float32 arithmetic
    assert City("c", series, np.eye(3), 60, 24).num_nodes == 3


def test_a_weekday_outside_the_week_is_refused():
    with pytest.raises(DataError, match=r"start_day_of_week must be 0 \(Monday\) \.\. 6"):
        City("c", np.ones((48, 3)), np.eye(3), 60, 24, start_day_of_week=7)


def test_a_day_longer_than_24_hours_is_refused():
    with pytest.raises(DataError, match=r"288 steps of 10 minutes make a day longer than 24 h; .* at most 144"):
        City("c", np.ones((600, 3)), np.eye(3), 10, 288)


@pytest.mark.parametrize("bad", [np.float64(7.5), np.array([5, 5]), np.str_("5"), np.int64(0), np.float64(np.nan)])
def test_generic_calendar_numbers_must_be_whole_and_positive(tmp_path, bad):
    with pytest.raises(DataError, match=r"data.npz: interval_minutes is .*; store one whole number > 0"):
        load_generic(write_npz(tmp_path, adj=np.eye(3), interval_minutes=bad))


@pytest.mark.parametrize(
    ("values", "found"),
    [
        (np.ones((48, 3), np.complex128), r"complex numbers \(complex128\)"),
        (np.ones((48, 3), bool), r"booleans \(bool\)"),
        (np.full((48, 3), "abc"), r"text \(<U3\)"),
        (np.full((48, 3), "1.5"), r"text \(<U3\)"),
    ],
)
def test_generic_values_that_are_not_real_numbers_are_refused(tmp_path, values, found):
    message = rf"data.npz: city .*: the values are {found}; store real numbers \(int or float, NaN = missing\)"
    with pytest.raises(DataError, match=message):
        load_generic(write_npz(tmp_path, values=values, adj=np.eye(3)))


def test_an_interval_that_does_not_divide_a_day_is_refused_as_in_csv(tmp_path):
    with pytest.raises(DataError, match=r"data.npz: .*an interval of 7 minutes does not divide a day"):
        load_generic(write_npz(tmp_path, interval_minutes=7, steps_per_day=205))
    assert City("metro", np.ones((216, 2)), np.eye(2), 10, 108).steps_per_day == 108  # an 18 h service day


def test_extreme_values_of_any_dtype_are_judged_before_float32_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert City("c", np.full((48, 3), 60000, np.float16), np.eye(3), 60, 24).series.dtype == np.float32
        for values, first in ((np.iinfo(np.int64).min, "-9.22337e+18"), (1e300, "1e+300")):
            with pytest.raises(DataError, match=rf"the first {re.escape(first)} at step 0"):
                City("c", np.full((48, 3), values), np.eye(3), 60, 24)
        with pytest.raises(DataError, match=r"graph holds weights beyond 1e\+15 \(largest 1e\+300\)"):
            City("c", np.ones((48, 2)), np.array([[1, 1e300], [0, 1]]), 60, 24)
        with pytest.raises(DataError, match=r"the graph weights are text"):
            City("c", np.ones((48, 2)), np.array([["1", "0"], ["0", "1"]]), 60, 24)
    assert City("c", np.ones((48, 2)), np.eye(2, dtype=bool), 60, 24).adjacency.dtype == np.float32
