"""DCRNN release layout (Li et al., ICLR 2018): a pandas HDF series and a pickled sensor graph.

``metr-la.h5`` / ``pems-bay.h5``: one DataFrame, index = timestamps, columns = sensor ids.
``adj_mx.pkl`` / ``adj_mx_bay.pkl``: ``(sensor_ids, id_to_index, adj_mx)`` written by DCRNN's
``gen_adj_mx.py`` under Python 2 (hence ``encoding="latin1"``). Pickles run code when loaded:
read only files from a source you trust.

The interval and the weekday of step 0 come from the timestamps. Rows are kept as they are:
PEMS-BAY's h5 lacks the hour skipped by daylight saving on 2017-03-12, like every published
split of it.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.formats import about, calendar_of_start, require_file, write_atomically

HDF_KEY = "df"


def read_adjacency_pickle(path: Path) -> tuple[list[str] | None, np.ndarray]:
    """``(sensor_ids, adj_mx)`` of a DCRNN pickle; ``sensor_ids`` is None for a bare matrix (BasicTS)."""
    require_file(path, "the graph pickle (sensor_ids, id_to_index, adj_mx) released with the series")
    try:
        with open(path, "rb") as handle:
            content = pickle.load(handle, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as error:
        raise DataError(f"{path} is not a readable pickle ({error}); fetch the graph file again") from None
    if isinstance(content, np.ndarray):
        return None, content
    if not (isinstance(content, (tuple, list)) and len(content) == 3):
        raise DataError(f"{path} holds a {type(content).__name__}; expected (sensor_ids, id_to_index, adj_mx)")
    sensor_ids, id_to_index, adjacency = content
    sensor_ids = [str(s) for s in sensor_ids]
    expected = {s: i for i, s in enumerate(sensor_ids)}
    if not isinstance(id_to_index, dict) or {str(s): int(i) for s, i in id_to_index.items()} != expected:
        raise DataError(f"{path}: id_to_index disagrees with the order of sensor_ids; the pickle is inconsistent")
    return sensor_ids, np.asarray(adjacency)


def graph_in_column_order(
    columns: list[str], sensor_ids: list[str], adjacency: np.ndarray, adj_path: Path
) -> np.ndarray:
    """The graph reordered to the series' columns, or a DataError naming the sensors that differ."""
    if adjacency.shape != (len(sensor_ids),) * 2:
        raise DataError(f"{adj_path}: adj_mx is {adjacency.shape} for {len(sensor_ids)} sensor ids")
    only_series = sorted(set(columns) - set(sensor_ids))
    only_graph = sorted(set(sensor_ids) - set(columns))
    if only_series or only_graph or len(set(columns)) != len(columns):
        raise DataError(
            f"{adj_path} does not describe the series' sensors: {len(only_series)} series columns are not in "
            f"the graph (e.g. {only_series[:3]}), {len(only_graph)} graph sensors have no column "
            f"(e.g. {only_graph[:3]}); use the adj_mx pickle released with this .h5"
        )
    position = {sensor: i for i, sensor in enumerate(sensor_ids)}
    order = [position[c] for c in columns]
    return adjacency[np.ix_(order, order)]


def interval_of(index: pd.DatetimeIndex, h5_path: Path) -> int:
    """The most common step between timestamps, in whole minutes."""
    steps = np.asarray((index[1:] - index[:-1]).total_seconds()) / 60
    if len(steps) == 0 or (steps <= 0).any():
        raise DataError(f"{h5_path}: timestamps must be increasing (and more than one)")
    interval = float(pd.Series(steps).mode().iloc[0])
    if interval != int(interval) or (24 * 60) % int(interval):
        raise DataError(f"{h5_path}: step of {interval} minutes does not divide a day")
    return int(interval)


def load_dcrnn(
    h5_path: str | Path,
    adj_path: str | Path,
    *,
    name: str | None = None,
    zero_is_missing: bool = True,
    same_sensors_as: tuple[str, ...] = (),
) -> City:
    """Read a DCRNN ``.h5`` series and its ``adj_mx*.pkl`` graph (reordered to the h5 columns)."""
    return load_dcrnn_with_start(
        h5_path, adj_path, name=name, zero_is_missing=zero_is_missing, same_sensors_as=same_sensors_as
    )[0]


def load_dcrnn_with_start(
    h5_path: str | Path,
    adj_path: str | Path,
    *,
    name: str | None = None,
    zero_is_missing: bool = True,
    same_sensors_as: tuple[str, ...] = (),
) -> tuple[City, str]:
    """:func:`load_dcrnn`'s city and the ISO time of its first row."""
    h5_path, adj_path = Path(h5_path), Path(adj_path)
    require_file(h5_path, "the DCRNN series (e.g. metr-la.h5, a pandas HDF DataFrame)")
    try:
        frame = pd.read_hdf(h5_path)
    except (ValueError, OSError, KeyError, TypeError, RuntimeError) as error:  # tables' HDF5ExtError is a RuntimeError
        reason = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise DataError(f"{h5_path} is not a readable single-table pandas HDF file ({reason})") from None
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{h5_path}: expected a DataFrame indexed by timestamps (columns = sensor ids)")
    columns = [str(c) for c in frame.columns]
    sensor_ids, adjacency = read_adjacency_pickle(adj_path)
    if sensor_ids is None:
        raise DataError(f"{adj_path} is a bare matrix; DCRNN graphs carry sensor ids to match the h5 columns")
    interval = interval_of(frame.index, h5_path)
    weekday, step_of_day = calendar_of_start(frame.index[0], interval, 24 * 60 // interval, h5_path)
    with about(h5_path):
        city = City(
            name or h5_path.stem,
            frame.to_numpy(),
            graph_in_column_order(columns, sensor_ids, adjacency, adj_path),
            interval,
            24 * 60 // interval,
            zero_is_missing=zero_is_missing,
            start_day_of_week=weekday,
            start_step_of_day=step_of_day,
            same_sensors_as=same_sensors_as,
        )
    return city, frame.index[0].isoformat()


def save_dcrnn(
    city: City, h5_path: str | Path, adj_path: str | Path, start: str, sensor_ids: list[str] | None = None
) -> None:
    """Write channel 0 of ``city`` as a DCRNN ``.h5`` (timestamps from ``start``) and pickle."""
    sensor_ids = sensor_ids or [str(i) for i in range(city.num_nodes)]
    index = pd.date_range(start, periods=city.num_steps, freq=f"{city.interval_minutes}min")
    frame = pd.DataFrame(city.series[..., 0], index=index, columns=sensor_ids)
    write_atomically(Path(h5_path), lambda partial: frame.to_hdf(partial, key=HDF_KEY, mode="w"))
    save_adjacency_pickle(Path(adj_path), city.adjacency, sensor_ids)


def save_adjacency_pickle(path: Path, adjacency: np.ndarray, sensor_ids: list[str]) -> None:
    """Write ``(sensor_ids, id_to_index, adjacency)`` as DCRNN (and BasicTS) do."""
    graph = (sensor_ids, {s: i for i, s in enumerate(sensor_ids)}, np.asarray(adjacency))

    def write(partial: Path) -> None:
        with open(partial, "wb") as handle:
            pickle.dump(graph, handle, protocol=2)

    write_atomically(path, write)
