"""The checks of :mod:`tsjt_basicts.data.prepare`: each refuses one kind of bad option or input
with one line naming the problem and the fix, before anything is written.

Before reading: the city name, the ``--out`` folder (never the shared reference data, never a
folder that holds ``--from`` or files other than a prepared city's) and the ST-GFSL calendar
options. After detecting the layout: options that only one layout reads. After reading: the
calendar options against the calendar the files carry, and a city without a single observed value.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd

from tsjt_basicts.data.city import MINUTES_PER_DAY, City, DataError
from tsjt_basicts.data.formats import calendar_of_start
from tsjt_basicts.data.formats.generic import DATA_FILE, META_FILE
from tsjt_basicts.data.tasks import PAPER_CITIES, REAL_CITIES, shared_datasets_root
from tsjt_basicts.errors import ConfigError

CITY_NAME = re.compile(r"\w[\w.-]{0,99}")  # a plain folder name: no separators, not hidden, not . or ..
PREPARED_FILES = {DATA_FILE, META_FILE}
CSV_ONLY_OPTIONS = ("--sensors", "--edges")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_city_name(name: str) -> None:
    """Refuse names that are not one plain folder, or that a shared or paper city owns."""
    if not CITY_NAME.fullmatch(name) or name.endswith("."):
        raise ConfigError(
            f"--city {name!r} is not a plain folder name; use up to 100 letters, digits, '-', '_' and '.' "
            "(not first or last), e.g. my-city"
        )
    clash = [known for known in (*REAL_CITIES, *PAPER_CITIES) if known.lower() == name.lower()]
    if clash and clash[0] in REAL_CITIES:
        raise ConfigError(
            f"--city {name} is the name of a shared real city, which load_city reads from the shared datasets "
            "(your copy would be ignored); pick another name, e.g. my-" + name
        )
    if clash and clash[0] != name:
        raise ConfigError(f"--city {name}: the paper city is spelled {clash[0]}; use that spelling")


def refuse_shared_out(root: Path) -> None:
    """Refuse an ``--out`` in the shared reference data (or the folder holding it): every task reads it."""
    shared = shared_datasets_root().resolve()
    out = root.resolve()
    if out == shared or shared in out.parents or out == shared.parent:
        where = "holds" if out == shared.parent else "is in"
        raise ConfigError(
            f"--out {root} {where} the shared reference data ({shared}), which every task reads and no run may "
            "change; pass a folder of your own, e.g. --out datasets"
        )


def check_target(root: Path, city: str) -> Path:
    """``root/city``, refused where writing it could replace anything but an earlier prepared city."""
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"--out {root}: {existing} is a file; pass a folder (it is created if needed)")
    refuse_shared_out(root)
    target = root / city
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ConfigError(f"{target} exists and is not a folder; pick another --city or --out")
    others = sorted(p.name for p in target.iterdir() if p.name not in PREPARED_FILES) if target.is_dir() else []
    if others:
        raise ConfigError(
            f"{target} holds other files than a prepared city's ({', '.join(others[:3])}); "
            "pick another --city or --out, so that nothing of yours is replaced"
        )
    return target


def refuse_source_in_target(source: Path, target: Path) -> None:
    """Refuse a ``--from`` that lies in the ``<out>/<CITY>`` folder that preparing replaces."""
    where, replaced = source.resolve(), target.resolve()
    if where == replaced or replaced in where.parents:
        raise ConfigError(
            f"--from {source} lies in {target}, the folder this run replaces; pass another --out (or --city)"
        )


def check_stgfsl_calendar(interval: int | None, steps_per_day: int | None) -> None:
    """ST-GFSL files carry no calendar: the interval must divide a day, a day must fit in 24 h."""
    if interval is None:
        raise ConfigError(
            "ST-GFSL files carry no calendar: pass --interval-minutes (and --steps-per-day for a service day)"
        )
    if interval <= 0 or MINUTES_PER_DAY % interval:
        raise ConfigError(f"--interval-minutes {interval} does not divide a day; use 5, 10, 15, 30, 60 ...")
    if steps_per_day is not None and not 0 < steps_per_day * interval <= MINUTES_PER_DAY:
        raise ConfigError(
            f"--steps-per-day {steps_per_day} x {interval} minutes is not a day of up to 24 h; give the steps of "
            f"one (service) day, at most {MINUTES_PER_DAY // interval}"
        )


def refuse_csv_only_options(given: dict[str, Path | None], fmt: str, source: Path) -> None:
    """Refuse ``--sensors`` / ``--edges`` for a layout other than CSV, which would ignore them."""
    for option in CSV_ONLY_OPTIONS:
        if given.get(option) is not None and fmt != "csv":
            raise ConfigError(
                f"{option} belongs to the CSV layout, and {source} is read as {fmt}; drop {option} (a {fmt} "
                "layout carries its own graph), or pass the CSV series as --from"
            )


def option_time(start: str) -> pd.Timestamp | None:
    """``--start`` as a time (None when not given)."""
    try:
        return pd.Timestamp(start) if start else None
    except ValueError:
        raise ConfigError(f"--start {start!r} is not an ISO time; write e.g. 2020-01-06T00:00") from None


def settle_calendar_options(
    city: City, file_start: str, source: Path, interval: int | None, steps_per_day: int | None, start: str
) -> tuple[City, str]:
    """``(city, start)`` once the calendar options agree with the calendar the files carry.

    For every layout but ST-GFSL's: ``--interval-minutes`` and ``--steps-per-day`` must equal the
    file's; ``--start`` must equal the file's start, or its weekday and time of day where the file
    carries only those, and sets them where the file carries none.
    """
    for option, given, found in (
        ("--interval-minutes", interval, city.interval_minutes),
        ("--steps-per-day", steps_per_day, city.steps_per_day),
    ):
        if given is not None and given != found:
            raise ConfigError(f"{option} {given} disagrees with {source}, which says {found}; drop {option}")
    given_start = option_time(start)
    if given_start is None:
        return city, file_start
    if file_start:
        if given_start != pd.Timestamp(file_start):
            raise ConfigError(f"--start {start} disagrees with {source}, which starts at {file_start}; drop --start")
        return city, file_start
    try:
        weekday, step = calendar_of_start(start, city.interval_minutes, city.steps_per_day, source)
    except DataError:
        raise ConfigError(
            f"--start {start} is off the {city.interval_minutes}-minute grid of {source}; give the time of step 0 "
            f"as a multiple of {city.interval_minutes} minutes after midnight"
        ) from None
    known = city.start_day_of_week is not None or city.start_step_of_day != 0
    if known and (city.start_day_of_week not in (None, weekday) or city.start_step_of_day != step):
        raise ConfigError(
            f"--start {start} disagrees with {source}, whose step 0 is {calendar_words(city)}; drop --start"
        )
    return replace(city, start_day_of_week=weekday, start_step_of_day=step), start


def calendar_words(city: City) -> str:
    """``city``'s step 0 in words: "step 36 of a Monday" / "step 36 of the day"."""
    day = "the day" if city.start_day_of_week is None else f"a {WEEKDAYS[city.start_day_of_week]}"
    return f"step {city.start_step_of_day} of {day} ({city.interval_minutes}-minute steps)"


def refuse_unusable(city: City, source: Path) -> None:
    """Refuse a city without one observed value: it could neither train nor be scored."""
    if city.valid_mask().any():
        return
    zeros = " or 0, which zero_is_missing marks missing" if city.zero_is_missing else ""
    fix = "; if 0 is a real value here, prepare with --no-zero-is-missing" if city.zero_is_missing else ""
    raise DataError(f"{source}: {city.name} holds no observed value (every value is NaN{zeros}); check the file{fix}")
