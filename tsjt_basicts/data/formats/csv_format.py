"""Wide CSV: a timestamp column and one column per sensor, with optional sensors and edges files.

Series file (``--from FILE.csv``; or in ``--from FOLDER`` its one ``*.csv`` besides the two
below, ``series.csv`` where there are several)::

    timestamp,S1,S2,S3
    2020-01-06 06:10,51.0,,48.5
    2020-01-06 06:20,50.2,NA,47.9

- The timestamp column is the one named ``timestamp``, ``time``, ``datetime`` or ``date`` (any
  case), else the first column; every other column is a sensor whose header is its id.
- Stamps are ISO 8601 local times, sorted, one row per time. They define the calendar: the
  interval is their most common difference and must divide a day (steps per day = 1440 /
  interval); step 0 is the first stamp, at any time of day on that grid; a stamp missing from the
  grid is a gap, filled with a row of NaN at its place. Duplicate, unsorted or off-grid stamps are
  refused (a night hour that occurs twice is named as daylight saving's end: write standard time
  or UTC), and so is a file whose gaps would outnumber its rows (a typo in a date, most likely).
- Cells are numbers; empty cells and NA, N/A, NaN, null, None, #N/A mark a missing value; any
  other text is refused.

Sensors file (``--sensors``, default ``sensors.csv`` beside the series): columns ``id``, ``lat``,
``lon`` (degrees; an empty cell = unknown), one row per sensor column of the series, no other ids.
Edges file (``--edges``, default ``edges.csv`` beside the series): columns ``from``, ``to`` and
optionally ``weight`` (default 1, >= 0, at most 1e15), one directed link per row between sensor
ids (write both directions of a two-way road); every sensor gets a self-loop of weight 1 unless
the file gives one, as the kernel graphs of the other formats have. Without edges the graph is built from the
coordinates, else from series correlations (:func:`tsjt_basicts.data.graphs.ensure_graph`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tsjt_basicts.data.city import MAX_ABS_VALUE, MINUTES_PER_DAY, City, DataError
from tsjt_basicts.data.formats import about, calendar_of_start
from tsjt_basicts.data.formats.csv_table import Table, numbers_of, read_table
from tsjt_basicts.data.graphs import ensure_graph
from tsjt_basicts.data.split import Protocol

SERIES_FILE, SENSORS_FILE, EDGES_FILE = "series.csv", "sensors.csv", "edges.csv"
TIMESTAMP_NAMES = ("timestamp", "time", "datetime", "date")
SERIES_LAYOUT = "a wide CSV: a timestamp column, then one column per sensor (header = sensor id)"


@dataclass(frozen=True)
class CsvFiles:
    """The files of one CSV city: the series, and its sensors and edges files when there are any."""

    series: Path
    sensors: Path | None = None
    edges: Path | None = None


@dataclass(frozen=True)
class CsvCity:
    """A city read from CSV files, with what the prepared layout stores beside it."""

    city: City
    start: str  # ISO time of step 0
    sensor_ids: list[str]
    notes: tuple[str, ...]  # what a user should know: gaps filled, sensors without any value


def series_candidates(folder: Path) -> list[Path]:
    """The ``*.csv`` files of ``folder`` that may be a series (not sensors.csv / edges.csv)."""
    return sorted(p for p in folder.glob("*.csv") if p.name.lower() not in (SENSORS_FILE, EDGES_FILE))


def find_series_file(source: Path) -> Path:
    """``source`` itself, or the series file of the folder ``source``."""
    if source.is_file():
        return source
    if (source / SERIES_FILE).is_file():
        return source / SERIES_FILE
    candidates = series_candidates(source)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(f"{source}: no *.csv series file; put {SERIES_LAYOUT} there")
    names = ", ".join(p.name for p in candidates)
    raise DataError(f"{source} holds several CSV files ({names}); pass the series file itself as --from")


def find_csv_files(source: Path, sensors: Path | None = None, edges: Path | None = None) -> CsvFiles:
    """The series file of ``source`` with the given sensors / edges files, else those beside it."""
    series = find_series_file(source)
    beside = series.parent
    return CsvFiles(
        series,
        sensors or ((beside / SENSORS_FILE) if (beside / SENSORS_FILE).is_file() else None),
        edges or ((beside / EDGES_FILE) if (beside / EDGES_FILE).is_file() else None),
    )


def timestamp_column(table: Table) -> int:
    """The column named like a time (first column when none is)."""
    named = table.columns_named(TIMESTAMP_NAMES)
    if len(named) > 1:
        raise DataError(
            f"{table.path}: several time columns ({[table.header[i] for i in named]}); "
            "merge them into one ISO time column, e.g. 2020-01-06 06:10"
        )
    return named[0] if named else 0


def parse_stamps(table: Table, column: int) -> pd.DatetimeIndex:
    """The stamps of ``column`` as wall-clock times; refused when any is not an ISO 8601 time."""
    cells = table.column(column)
    try:
        stamps = pd.to_datetime(pd.Index(cells), format="ISO8601")
    except (ValueError, TypeError, OverflowError) as error:
        for line, cell in zip(table.lines, cells, strict=True):
            if not is_iso_time(cell):
                raise DataError(
                    f"{table.path}, line {line}: time {cell!r} is not an ISO 8601 time; write e.g. 2020-01-06 06:10"
                ) from None
        raise DataError(
            f"{table.path}: the times cannot be read as one time line ({error}); write local times without "
            "time-zone offsets"
        ) from None
    if stamps.isna().any():
        line = table.lines[int(np.argmax(stamps.isna()))]
        raise DataError(f"{table.path}, line {line}: the time is empty; fill it in")
    return stamps.tz_localize(None) if stamps.tz is not None else stamps


def is_iso_time(cell: str) -> bool:
    try:
        pd.to_datetime(pd.Index([cell]), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return False
    return bool(cell.strip())


def refuse_disorder(table: Table, stamps: pd.DatetimeIndex) -> None:
    """Refuse stamps that go back in time or repeat (a repeated night hour: daylight saving's end)."""
    steps = np.diff(stamps.asi8)
    backwards = np.flatnonzero(steps <= 0)
    if len(backwards) and repeats_a_night_hour(stamps, int(backwards[0]) + 1):
        row = int(backwards[0]) + 1
        raise DataError(
            f"{table.path}, line {table.lines[row]}: the time {stamps[row]} follows {stamps[row - 1]} (line "
            f"{table.lines[row - 1]}), so an hour occurs twice, as local clocks repeat one when daylight saving "
            "time ends (the rows are in order); convert the times to standard time or UTC"
        )
    for kind, found, fix in (
        ("goes back in time from", steps < 0, "sort the rows by time"),
        ("repeats", steps == 0, "keep one row per time, one column per sensor (pivot a long table first)"),
    ):
        if found.any():
            row = int(np.argmax(found)) + 1
            raise DataError(
                f"{table.path}, line {table.lines[row]}: the time {stamps[row]} {kind} {stamps[row - 1]} "
                f"(line {table.lines[row - 1]}); {fix}"
            )


def repeats_a_night_hour(stamps: pd.DatetimeIndex, row: int) -> bool:
    """Whether ``row`` steps back to one hour after its predecessor's last hour, between 00:00 and 03:59:
    the pattern of clocks falling back one hour at the end of daylight saving time."""
    steps = np.diff(stamps.asi8)
    forward = steps[steps > 0]
    if not len(forward) or stamps[row].hour > 3:
        return False
    values, counts = np.unique(forward, return_counts=True)
    hour = pd.Timedelta(hours=1) / pd.Timedelta(1, unit=stamps.unit)
    return bool(stamps.asi8[row - 1] - stamps.asi8[row] + values[np.argmax(counts)] == hour)


def interval_of(table: Table, stamps: pd.DatetimeIndex) -> int:
    """The most common difference between stamps, in whole minutes that divide a day."""
    if len(stamps) < 2:
        raise DataError(f"{table.path}: {len(stamps)} row(s); the interval needs at least two times")
    differences, counts = np.unique(np.diff(stamps.asi8), return_counts=True)
    interval = pd.Timedelta(int(differences[np.argmax(counts)]), unit=stamps.unit)
    minutes = interval / pd.Timedelta(minutes=1)
    if minutes != int(minutes) or MINUTES_PER_DAY % int(minutes):
        raise DataError(
            f"{table.path}: the times are mostly {minutes:g} minutes apart, which does not divide a day into "
            "whole-minute steps; resample to an interval that does (5, 10, 15, 30, 60 minutes ...)"
        )
    return int(minutes)


def grid_positions(table: Table, stamps: pd.DatetimeIndex, interval: int) -> np.ndarray:
    """Each row's step on the regular grid from the first stamp; refused off the grid or mostly gaps."""
    step = int(pd.Timedelta(minutes=interval) / pd.Timedelta(1, unit=stamps.unit))  # in the unit of asi8
    elapsed = stamps.asi8 - stamps.asi8[0]
    off_grid = np.flatnonzero(elapsed % step)
    if len(off_grid):
        row = int(off_grid[0])
        raise DataError(
            f"{table.path}, line {table.lines[row]}: the time {stamps[row]} is off the {interval}-minute grid "
            f"that starts at {stamps[0]}; resample the series to one row every {interval} minutes"
        )
    positions = elapsed // step
    steps = int(positions[-1]) + 1
    if steps > 2 * len(positions):
        row = int(np.argmax(np.diff(positions))) + 1
        raise DataError(
            f"{table.path}: {len(positions)} rows span {steps} steps of {interval} minutes, most of them gaps "
            f"(the longest ends at line {table.lines[row]}, {stamps[row]}); check the dates there or cut the file"
        )
    return positions


@dataclass(frozen=True)
class CsvSeries:
    """A series file's values on its regular grid (gaps filled with NaN) and its calendar."""

    values: np.ndarray  # [T, N] float32, NaN = missing
    sensor_ids: list[str]
    start: pd.Timestamp
    interval_minutes: int
    gap_steps: int


def read_series_csv(path: Path) -> CsvSeries:
    """The wide CSV series of ``path`` on its regular grid."""
    table = read_table(path, SERIES_LAYOUT)
    time_column = timestamp_column(table)
    sensors = [i for i in range(len(table.header)) if i != time_column]
    if not sensors:
        raise DataError(f"{path} has no sensor column; it must be {SERIES_LAYOUT}")
    stamps = parse_stamps(table, time_column)
    refuse_disorder(table, stamps)
    interval = interval_of(table, stamps)
    positions = grid_positions(table, stamps, interval)
    values = np.full((int(positions[-1]) + 1, len(sensors)), np.nan, dtype=np.float32)
    values[positions] = numbers_of(table, sensors)
    if np.isnan(values).all():
        raise DataError(f"{path} holds no value (every sensor cell is empty or NA); check the file")
    return CsvSeries(
        values, [table.header[i] for i in sensors], stamps[0], interval, len(values) - len(positions)
    )


def ids_of(table: Table, column: int, known: list[str], what: str) -> np.ndarray:
    """The rows' indices into ``known`` of the ids in ``column``; unknown ids refused."""
    ids = [cell.strip() for cell in table.column(column)]
    index = {sensor: i for i, sensor in enumerate(known)}
    unknown = [(line, sensor) for line, sensor in zip(table.lines, ids, strict=True) if sensor not in index]
    if unknown:
        line, sensor = unknown[0]
        raise DataError(
            f"{table.path}, line {line}: {what} {sensor!r} is not a sensor column of the series "
            f"({len(unknown)} such row(s)); use the ids of the series header, e.g. {known[:3]}"
        )
    return np.asarray([index[sensor] for sensor in ids], dtype=np.int64)


def read_sensors_csv(path: Path, sensor_ids: list[str]) -> np.ndarray | None:
    """``[N, 2]`` (lat, lon) in the order of ``sensor_ids`` (NaN = unknown); None when none is known."""
    table = read_table(path, "a CSV with columns id, lat, lon (one row per sensor column of the series)")
    columns = [table.require_column(name, "sensor id, latitude, longitude in degrees") for name in ("id", "lat", "lon")]
    rows = ids_of(table, columns[0], sensor_ids, "sensor")
    repeated = [sensor_ids[i] for i in np.unique(rows) if (rows == i).sum() > 1]
    if repeated:
        raise DataError(f"{path}: sensors {repeated[:3]} are listed more than once; keep one row per sensor")
    listed = set(rows.tolist())
    absent = [sensor for i, sensor in enumerate(sensor_ids) if i not in listed]
    if absent:
        raise DataError(
            f"{path}: {len(absent)} sensor(s) of the series are not listed (e.g. {absent[:3]}); add a row for each "
            "(leave lat and lon empty where unknown)"
        )
    given = numbers_of(table, columns[1:])
    outside = np.flatnonzero((np.abs(given) > (90, 180)).any(axis=1))
    if len(outside):
        raise DataError(
            f"{path}, line {table.lines[outside[0]]}: ({given[outside[0], 0]}, {given[outside[0], 1]}) is not "
            "(lat, lon) in degrees (|lat| <= 90, |lon| <= 180); convert projected coordinates to degrees"
        )
    coords = np.full((len(sensor_ids), 2), np.nan)
    coords[rows] = given
    return None if np.isnan(coords).all() else coords


def read_edges_csv(path: Path, sensor_ids: list[str]) -> np.ndarray:
    """``[N, N]`` weights (row = from, column = to) of the edge list, self-loops of weight 1 added."""
    table = read_table(path, "a CSV with columns from, to[, weight] naming sensor ids")
    sources = ids_of(table, table.require_column("from", "the sensor id a link starts at"), sensor_ids, "sensor")
    targets = ids_of(table, table.require_column("to", "the sensor id a link ends at"), sensor_ids, "sensor")
    weights = np.ones(len(sources))
    weight_column = table.columns_named(("weight",))
    if weight_column:
        given = numbers_of(table, weight_column)[:, 0]
        weights = np.where(np.isnan(given), 1.0, given)
    negative = np.flatnonzero(weights < 0)
    if len(negative):
        raise DataError(f"{path}, line {table.lines[negative[0]]}: weight {weights[negative[0]]} < 0; weights are >= 0")
    huge = np.flatnonzero(weights > MAX_ABS_VALUE)
    if len(huge):
        raise DataError(
            f"{path}, line {table.lines[huge[0]]}: weight {weights[huge[0]]:g} is beyond {MAX_ABS_VALUE:.0e}; give "
            "weights on a plain scale (1 per link, or a closeness in [0, 1])"
        )
    seen: set[tuple[int, int]] = set()
    for row, link in enumerate(zip(sources.tolist(), targets.tolist(), strict=True)):
        if link in seen:
            raise DataError(
                f"{path}, line {table.lines[row]}: the link {sensor_ids[link[0]]} -> {sensor_ids[link[1]]} is "
                "listed before; keep one row per link"
            )
        seen.add(link)
    adjacency = np.eye(len(sensor_ids))
    adjacency[sources, targets] = weights
    return adjacency


def load_csv(
    files: CsvFiles, *, name: str, zero_is_missing: bool = False, protocol: Protocol = Protocol()
) -> CsvCity:
    """The city of a wide CSV series with its optional sensors and edges files (see the module doc)."""
    series = read_series_csv(files.series)
    steps_per_day = MINUTES_PER_DAY // series.interval_minutes
    start = series.start.isoformat()
    weekday, step_of_day = calendar_of_start(start, series.interval_minutes, steps_per_day, files.series)
    locations = read_sensors_csv(files.sensors, series.sensor_ids) if files.sensors else None
    adjacency = read_edges_csv(files.edges, series.sensor_ids) if files.edges else None
    with about(files.series):
        city = ensure_graph(
            name,
            series.values,
            adjacency,
            locations,
            protocol=protocol,
            interval_minutes=series.interval_minutes,
            steps_per_day=steps_per_day,
            zero_is_missing=zero_is_missing,
            start_day_of_week=weekday,
            start_step_of_day=step_of_day,
        )
    return CsvCity(city, start, series.sensor_ids, notes_on(series))


def notes_on(series: CsvSeries) -> tuple[str, ...]:
    """Gaps filled with NaN rows, and sensors without a single value (drop them, or fill them in)."""
    without_values = np.isnan(series.values).all(axis=0)
    empty = [sensor for sensor, none in zip(series.sensor_ids, without_values, strict=True) if none]
    return tuple(
        note
        for note in (
            f"{series.gap_steps} missing time(s) filled with NaN rows" if series.gap_steps else "",
            f"{len(empty)} sensor(s) without any value ({', '.join(empty[:3])}): drop or fill them" if empty else "",
        )
        if note
    )
