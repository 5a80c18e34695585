"""BasicTS dataset folders (``datasets/<NAME>/`` as BasicTS's preparation scripts write them).

Two generations exist; the reader takes either, the writer writes the first:

- BasicTS 0.4-0.5: ``data.dat``, a raw float32 memmap ``[T, N, C]`` (channel 0 the value, then
  the time features named in ``feature_description``), and ``desc.json``. Keys read:
  ``shape``, ``frequency (minutes)``, ``feature_description``, ``regular_settings.NULL_VAL``.
- BasicTS >= 1.0 (the installed 1.1.0 reads these): ``{train,val,test}_data.npy`` (``[T_part, N]``,
  consecutive parts of one series), ``train_timestamps.npy`` and ``meta.json``. Keys read:
  ``shape``, ``frequency (minutes)``, ``timestamps_description``, ``regular_settings.null_val``.

Both may hold ``adj_mx.pkl`` (DCRNN's pickle or a bare matrix); without it a graph is built by
:func:`ensure_graph`. The weekday and time of day of step 0 come from the ``day of week`` (weekday / 7) and ``time of
day`` features.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.formats import about, read_json, read_npy, require_file, write_atomically
from tsjt_basicts.data.formats.dcrnn import read_adjacency_pickle, save_adjacency_pickle
from tsjt_basicts.data.graphs import ensure_graph
from tsjt_basicts.data.split import Protocol
from tsjt_basicts.data.windows import time_features

DATA_FILE, DESC_FILE, META_FILE, GRAPH_FILE = "data.dat", "desc.json", "meta.json", "adj_mx.pkl"
SPLIT_PARTS = ("train", "val", "test")
TIME_OF_DAY, DAY_OF_WEEK = "time of day", "day of week"


def description_value(desc: dict, key: str, path: Path) -> object:
    """``desc[key]``, or a DataError saying the description lacks it."""
    if desc.get(key) is None:
        raise DataError(f"{path} lacks {key!r}; add it as BasicTS's generate_training_data.py writes it")
    return desc[key]


def calendar_from_features(features: np.ndarray, names: list[str]) -> tuple[int | None, float]:
    """``(weekday or None, time of day in [0, 1))`` of step 0 from its time features."""
    time_of_day = float(features[names.index(TIME_OF_DAY)]) % 1.0 if TIME_OF_DAY in names else 0.0
    weekday = int(round(float(features[names.index(DAY_OF_WEEK)]) * 7)) % 7 if DAY_OF_WEEK in names else None
    return weekday, time_of_day


def read_memmap_layout(folder: Path) -> tuple[dict, np.ndarray, tuple[int | None, float]]:
    """``(desc, values [T, N], (weekday, time of day))`` of a BasicTS 0.4-0.5 folder."""
    desc_path = folder / DESC_FILE
    desc = read_json(desc_path, "the BasicTS desc.json written with data.dat")
    shape = tuple(description_value(desc, "shape", desc_path))
    data_path = require_file(folder / DATA_FILE, "the BasicTS float32 memmap data.dat")
    if len(shape) != 3 or data_path.stat().st_size != 4 * int(np.prod(shape)):
        raise DataError(
            f"{data_path} holds {data_path.stat().st_size} bytes but desc.json's shape {list(shape)} "
            f"([T, N, C] float32) needs {4 * int(np.prod(shape))}; the pair does not belong together"
        )
    data = np.memmap(data_path, dtype=np.float32, mode="r", shape=shape)
    names = list(desc.get("feature_description") or [])[1:]  # the first entry names the value
    return desc, data[..., 0], calendar_from_features(data[0, 0, 1:], names)


def read_split_layout(folder: Path) -> tuple[dict, np.ndarray, tuple[int | None, float]]:
    """``(meta, values [T, N], (weekday, time of day))`` of a BasicTS >= 1.0 folder (parts concatenated)."""
    meta_path = folder / META_FILE
    meta = read_json(meta_path, "the BasicTS meta.json written with {train,val,test}_data.npy")
    parts = [read_npy(folder / f"{p}_data.npy", f"the BasicTS {p} part {p}_data.npy") for p in SPLIT_PARTS]
    values = np.concatenate([p if p.ndim == 2 else p[..., 0] for p in parts])
    shape = description_value(meta, "shape", meta_path)
    if values.shape[0] != shape[0]:
        raise DataError(f"{folder}: the parts hold {values.shape[0]} steps, meta.json's shape says {shape[0]}")
    stamps_path = folder / "train_timestamps.npy"
    names = list(meta.get("timestamps_description") or [])
    stamps = read_npy(stamps_path, "the BasicTS train_timestamps.npy") if stamps_path.is_file() else None
    calendar = calendar_from_features(stamps[0], names) if stamps is not None else (None, 0.0)
    return meta, values, calendar


def load_basicts(
    folder: str | Path,
    *,
    name: str | None = None,
    zero_is_missing: bool | None = None,
    protocol: Protocol = Protocol(),
    same_sensors_as: tuple[str, ...] = (),
) -> City:
    """Read a BasicTS dataset folder of either generation (channel 0 only).

    ``zero_is_missing`` defaults to BasicTS's own setting (null value 0); ``protocol`` sets the
    training range of a correlation graph when the folder has no ``adj_mx.pkl``.
    """
    folder = Path(folder)
    if (folder / DESC_FILE).is_file() or (folder / DATA_FILE).is_file():
        desc, values, (weekday, time_of_day) = read_memmap_layout(folder)
        null_value = (desc.get("regular_settings") or {}).get("NULL_VAL")
    elif (folder / META_FILE).is_file():
        desc, values, (weekday, time_of_day) = read_split_layout(folder)
        null_value = (desc.get("regular_settings") or {}).get("null_val")
    else:
        raise DataError(
            f"{folder} holds no BasicTS dataset: put data.dat + desc.json (or BasicTS >= 1.0's "
            "{train,val,test}_data.npy + meta.json) there, as BasicTS's preparation scripts write them"
        )
    interval = int(description_value(desc, "frequency (minutes)", folder))
    adjacency = read_adjacency_pickle(folder / GRAPH_FILE)[1] if (folder / GRAPH_FILE).is_file() else None
    with about(folder):
        return ensure_graph(
            name or desc.get("name") or folder.name,
            values,
            adjacency,
            protocol=protocol,
            interval_minutes=interval,
            steps_per_day=24 * 60 // interval,
            zero_is_missing=(null_value == 0) if zero_is_missing is None else zero_is_missing,
            start_day_of_week=weekday,
            start_step_of_day=int(round(time_of_day * 24 * 60 / interval)) % (24 * 60 // interval),
            same_sensors_as=same_sensors_as,
        )


def save_basicts(city: City, folder: str | Path) -> None:
    """Write ``city`` as a BasicTS 0.4-0.5 folder: ``data.dat``, ``desc.json``, ``adj_mx.pkl``."""
    folder = Path(folder)
    calendar = time_features(city)
    names = [TIME_OF_DAY] + ([DAY_OF_WEEK] if city.start_day_of_week is not None else [])
    features = calendar[:, : len(names)]
    data = np.concatenate(
        [city.series[..., :1], np.broadcast_to(features[:, None, :], (city.num_steps, city.num_nodes, len(names)))],
        axis=2,
    ).astype(np.float32)
    desc = {
        "name": city.name,
        "shape": list(data.shape),
        "num_time_steps": city.num_steps,
        "num_nodes": city.num_nodes,
        "num_features": data.shape[2],
        "feature_description": ["value", *names],
        "has_graph": True,
        "frequency (minutes)": city.interval_minutes,
        "regular_settings": {"NULL_VAL": 0.0 if city.zero_is_missing else float("nan")},
    }
    write_atomically(folder / DATA_FILE, data.tofile)
    write_atomically(folder / DESC_FILE, lambda partial: partial.write_text(json.dumps(desc, indent=4)))
    save_adjacency_pickle(folder / GRAPH_FILE, city.adjacency, [str(i) for i in range(city.num_nodes)])
