"""Bring-your-own city: a folder with ``data.npz`` and an optional ``meta.json``.

``data.npz`` keys (the layout of ``shared/datasets/real`` and of prepared ``datasets/<CITY>/``):

- ``values`` ``[T, N]`` float or int (not bool, complex or text), NaN = missing (required);
- ``interval_minutes`` (dividing 1440), ``steps_per_day`` (required);
- ``adj`` ``[N, N]`` edge weights, ``coords`` ``[N, 2]`` (lat, lon; NaN or (0, 0) = unknown),
  ``start`` (ISO time of step 0, or empty), ``node_ids`` ``[N]`` (all optional; without ``adj``
  a graph is built by :func:`ensure_graph`; other keys are ignored).

``meta.json`` keys read (all optional): ``dataset`` (name), ``zero_is_missing`` (true / false, or
the strings "true" / "false" / "1" / "0"), ``start_day_of_week`` (0 = Monday .. 6) and
``start_step_of_day`` (used when ``start`` is empty), ``graph_source`` and ``kind`` ("real" or
"synthetic"). A value of another form is refused, naming the file and key. Without a start date
the day-of-week feature stays 0.
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import numpy as np

from tsjt_basicts.data.city import City, DataError, DataKind, GraphSource
from tsjt_basicts.data.formats import about, calendar_of_start, read_json, require_file, write_atomically
from tsjt_basicts.data.graphs import distance_kernel, ensure_graph
from tsjt_basicts.data.split import Protocol

DATA_FILE, META_FILE = "data.npz", "meta.json"
REQUIRED_KEYS = ("values", "interval_minutes", "steps_per_day")
FLAG_WORDS = {"true": True, "1": True, "false": False, "0": False}


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


def stored_start(path: str | Path) -> str:
    """The ``start`` that a ``data.npz`` read by :func:`load_generic` stores ("" when none)."""
    path = Path(path)
    with np.load(path / DATA_FILE if path.is_dir() else path, allow_pickle=False) as archive:
        return str(archive["start"]) if "start" in archive.files else ""


def npz_count(arrays: dict[str, np.ndarray], key: str, where: Path) -> int:
    """``arrays[key]`` as a whole number > 0 (one number, integer-valued)."""
    value = arrays[key]
    number = value.item() if value.size == 1 and value.dtype.kind in "iuf" else None
    if number is None or not np.isfinite(number) or number != int(number) or number <= 0:
        raise DataError(f"{where}: {key} is {value.tolist()!r}; store one whole number > 0, e.g. numpy.int64(5)")
    return int(number)


def meta_flag(meta: dict, key: str, where: Path, default: bool) -> bool:
    """``meta[key]`` read strictly as a boolean (``default`` when absent or null)."""
    value = meta.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if word not in FLAG_WORDS:
        raise DataError(f"{where}: {key} is {value!r}; write true or false")
    return FLAG_WORDS[word]


def meta_count(meta: dict, key: str, where: Path, limit: int | None = None) -> int | None:
    """``meta[key]`` as a whole number in ``[0, limit)`` (None when absent or null)."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdecimal():
        raise DataError(f"{where}: {key} is {value!r}; write a whole number >= 0 or null")
    number = int(str(value).strip())
    if limit is not None and number >= limit:
        raise DataError(f"{where}: {key} is {number}; it must be below {limit}")
    return number


def meta_kind(meta: dict, where: Path) -> DataKind:
    """``meta["kind"]``: "real" (also when absent) or "synthetic"."""
    kind = meta.get("kind") or "real"
    if kind not in get_args(DataKind):
        raise DataError(f"{where}: kind is {kind!r}; write \"real\" or \"synthetic\"")
    return kind


def coordinates_of(arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """``coords`` with (0, 0) rows, the usual mark of an unknown position, set to NaN."""
    if "coords" not in arrays:
        return None
    if arrays["coords"].dtype.kind not in "iuf":
        raise DataError(f"coords are {arrays['coords'].dtype}; store (lat, lon) degrees as numbers, NaN = unknown")
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
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path} holds {type(meta).__name__}, not an object of settings; write {{\"key\": value}}")
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
    interval, steps_per_day = (npz_count(arrays, key, data_path) for key in ("interval_minutes", "steps_per_day"))
    weekday, step_of_day = calendar_of_start(start, interval, steps_per_day, data_path)
    if not start:
        weekday = meta_count(meta, "start_day_of_week", meta_path, limit=7)
        step_of_day = meta_count(meta, "start_step_of_day", meta_path, limit=steps_per_day) or 0
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
            zero_is_missing=meta_flag(meta, "zero_is_missing", meta_path, False)
            if zero_is_missing is None
            else zero_is_missing,
            kind=meta_kind(meta, meta_path),
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
