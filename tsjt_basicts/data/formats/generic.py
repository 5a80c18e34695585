"""Bring-your-own city: a folder with ``data.npz`` and an optional ``meta.json``.

``data.npz`` keys (the layout of ``shared/datasets/real`` and of prepared ``datasets/<CITY>/``):

- ``values`` ``[T, N]`` float, NaN = missing (required);
- ``interval_minutes``, ``steps_per_day`` (required);
- ``adj`` ``[N, N]`` edge weights, ``coords`` ``[N, 2]`` (lat, lon; NaN or (0, 0) = unknown),
  ``start`` (ISO time of step 0, or empty), ``node_ids`` ``[N]`` (all optional; without ``adj``
  a graph is built by :func:`ensure_graph`; other keys are ignored).

``meta.json`` keys read (all optional): ``dataset`` (name), ``zero_is_missing``,
``start_day_of_week`` and ``start_step_of_day`` (used when ``start`` is empty), ``graph_source``
and ``kind``. Without a start date the day-of-week feature stays 0.
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import numpy as np

from tsjt_basicts.data.city import City, DataError, GraphSource
from tsjt_basicts.data.formats import about, calendar_of_start, read_json, require_file, write_atomically
from tsjt_basicts.data.graphs import distance_kernel, ensure_graph
from tsjt_basicts.data.split import Protocol

DATA_FILE, META_FILE = "data.npz", "meta.json"
REQUIRED_KEYS = ("values", "interval_minutes", "steps_per_day")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    require_file(
        path, "data.npz with values [T, N], interval_minutes, steps_per_day (see tsjt_basicts/data/formats/generic.py)"
    )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise DataError(f"{path} is not a readable .npz archive ({error}); write it with numpy.savez") from None
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise DataError(f"{path} lacks {missing}; add them (values [T, N], NaN = missing; interval and steps per day)")
    return arrays


def coordinates_of(arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """``coords`` with (0, 0) rows, the usual mark of an unknown position, set to NaN."""
    if "coords" not in arrays:
        return None
    coords = np.asarray(arrays["coords"], dtype=np.float64).copy()
    coords[(coords == 0).all(axis=1)] = np.nan
    return coords


def road_distances_to_graph(distances: np.ndarray) -> np.ndarray:
    """Links weighted by road distance (0 = no link) as DCRNN kernel weights, every link kept."""
    return distance_kernel(np.where(distances > 0, distances, np.inf), threshold=0.0)


def load_generic(
    path: str | Path,
    *,
    name: str | None = None,
    zero_is_missing: bool | None = None,
    adjacency_is_distance: bool = False,
    protocol: Protocol = Protocol(),
    same_sensors_as: tuple[str, ...] = (),
) -> City:
    """Read a ``data.npz`` city (``path``: its folder or the file itself).

    Args:
        zero_is_missing: default: meta.json's ``zero_is_missing``, else False (NaN marks missing).
        adjacency_is_distance: ``adj`` holds road distances (e.g. Montevideo's bus links), turned
            into DCRNN Gaussian-kernel weights; otherwise ``adj`` holds weights.
        protocol: sets the training range of a correlation graph when there are neither
            ``adj`` nor ``coords``.
    """
    path = Path(path)
    folder, data_path = (path, path / DATA_FILE) if path.is_dir() else (path.parent, path)
    meta_path = folder / META_FILE
    arrays = read_npz(data_path)
    meta = read_json(meta_path, "settings") if meta_path.is_file() else {}
    values = arrays["values"]
    if values.ndim != 2:
        raise DataError(f"{data_path}: values is {values.shape}; it must be [T, N] (one quantity, NaN = missing)")
    if "node_ids" in arrays and len(arrays["node_ids"]) != values.shape[1]:
        raise DataError(
            f"{data_path}: {len(arrays['node_ids'])} node_ids for {values.shape[1]} series; give one id per column"
        )
    adjacency = arrays.get("adj")
    graph_source = meta.get("graph_source") if meta.get("graph_source") in get_args(GraphSource) else "given"
    if adjacency is not None and adjacency_is_distance:
        adjacency, graph_source = road_distances_to_graph(adjacency), "gaussian-kernel"
    start = str(arrays["start"]) if "start" in arrays else ""
    interval, steps_per_day = int(arrays["interval_minutes"]), int(arrays["steps_per_day"])
    weekday, step_of_day = calendar_of_start(start, interval, steps_per_day, data_path)
    if not start:
        weekday, step_of_day = meta.get("start_day_of_week"), int(meta.get("start_step_of_day") or 0)
    with about(data_path):
        return ensure_graph(
            name or meta.get("dataset") or folder.name,
            values,
            adjacency,
            coordinates_of(arrays),
            protocol=protocol,
            graph_source=graph_source,
            interval_minutes=interval,
            steps_per_day=steps_per_day,
            zero_is_missing=bool(meta.get("zero_is_missing", False)) if zero_is_missing is None else zero_is_missing,
            kind="synthetic" if meta.get("kind") == "synthetic" else "real",
            start_day_of_week=weekday,
            start_step_of_day=step_of_day,
            same_sensors_as=same_sensors_as,
        )


def save_generic(
    city: City, folder: str | Path, *, start: str = "", node_ids: Sequence[str] | None = None, meta: dict | None = None
) -> None:
    """Write channel 0 of ``city`` as ``folder/data.npz`` and its settings as ``folder/meta.json``.

    A correlation graph is not written (it depends on the training range; the reader rebuilds it);
    ``meta`` adds keys to meta.json (e.g. provenance).
    """
    folder = Path(folder)
    arrays = {
        "values": city.series[..., 0],
        "interval_minutes": np.int64(city.interval_minutes),
        "steps_per_day": np.int64(city.steps_per_day),
        "start": np.str_(start),
        "node_ids": np.asarray(
            node_ids if node_ids is not None else [str(i) for i in range(city.num_nodes)], dtype=str
        ),
    }
    if city.graph_source != "correlation":
        arrays["adj"] = city.adjacency
    if city.locations is not None:
        arrays["coords"] = np.asarray(city.locations, dtype=np.float64)
    settings = {
        "dataset": city.name,
        "zero_is_missing": city.zero_is_missing,
        "start_day_of_week": city.start_day_of_week,
        "start_step_of_day": city.start_step_of_day,
        "graph_source": city.graph_source,
        "kind": city.kind,
        **(meta or {}),
    }

    def write_npz(partial: Path) -> None:
        with open(partial, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    write_atomically(folder / DATA_FILE, write_npz)
    write_atomically(folder / META_FILE, lambda partial: partial.write_text(json.dumps(settings, indent=1)))
