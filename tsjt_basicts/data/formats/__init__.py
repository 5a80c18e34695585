"""Readers and writers of the traffic-data layouts in use; each returns a :class:`City`.

One module per layout (``load_*`` / ``save_*``):

- ``stgfsl``: ST-GFSL / TPB bundle, ``dataset.npy`` + ``matrix.npy``.
- ``dcrnn``: DCRNN release, pandas HDF ``*.h5`` + ``adj_mx*.pkl``.
- ``basicts_format``: BasicTS datasets (``data.dat`` + ``desc.json``, or the >= 1.0 split files).
- ``generic``: bring-your-own city, ``data.npz`` (+ ``meta.json``); also the prepared layout.

This module holds what they share: clear errors for missing or unreadable files, and writes
that never leave a half-written file behind.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from tsjt_basicts.atomic import write_atomically
from tsjt_basicts.data.city import DataError


def require_file(path: Path, what_goes_there: str) -> Path:
    """``path`` if it is a file, else a DataError naming it and what to put there."""
    if not path.is_file():
        raise DataError(f"{path} not found: put {what_goes_there} there")
    return path


@contextmanager
def about(path: Path) -> Iterator[None]:
    """Prefix any DataError raised inside with the file it concerns."""
    try:
        yield
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def read_json(path: Path, what_goes_there: str) -> dict:
    """A JSON file's content, or a DataError naming the file."""
    require_file(path, what_goes_there)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path} is not valid JSON ({error}); fix or remove it") from None


def read_npy(path: Path, what_goes_there: str) -> np.ndarray:
    """A memory-mapped ``.npy`` array, or a DataError saying the file is damaged."""
    require_file(path, what_goes_there)
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(
            f"{path} is not a readable .npy array ({error}); it is truncated or damaged, fetch it again"
        ) from None


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` through :func:`write_atomically` (no ``.npy`` suffix appended to the temp name)."""

    def write(partial: Path) -> None:
        with open(partial, "wb") as handle:
            np.save(handle, np.asarray(array))

    write_atomically(path, write)


def calendar_of_start(
    start: str | pd.Timestamp | None, interval_minutes: int, steps_per_day: int, where: Path
) -> tuple[int | None, int]:
    """``(weekday, step of the day)`` of a series' first step; ``(None, 0)`` when the start is unknown.

    A series of whole days may start at any time on its interval grid (06:00 is step 36 of a 5-min
    day); a service day (``steps_per_day * interval_minutes`` under 24 h, e.g. a metro's 18 h) has
    no steps at night, so its start time is taken as the service day's first step.
    """
    if start is None or (isinstance(start, str) and not start.strip()):
        return None, 0
    try:
        stamp = pd.Timestamp(start)
    except ValueError:
        raise DataError(f"{where}: start {start!r} is not an ISO time; write e.g. '2012-03-01T00:00' or ''") from None
    if steps_per_day * interval_minutes < 24 * 60:
        return int(stamp.day_of_week), 0
    offset = stamp - stamp.normalize()
    if offset % pd.Timedelta(minutes=interval_minutes):
        raise DataError(
            f"{where}: the series starts at {stamp}, off its {interval_minutes}-minute grid; give the time of "
            "step 0 as a multiple of the interval after midnight"
        )
    return int(stamp.day_of_week), int(offset // pd.Timedelta(minutes=interval_minutes))
