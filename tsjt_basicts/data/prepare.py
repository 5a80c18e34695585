"""Convert a user's data files into the project's layout: ``<out>/<CITY>/data.npz`` + ``meta.json``.

    python -m tsjt_basicts.data.prepare --city METR-LA --from ~/Downloads/stgfsl_data
    python -m tsjt_basicts.data.prepare --city PEMS-BAY --from ~/dcrnn/data --format dcrnn
    python -m tsjt_basicts.data.prepare --city my-city --from ./my_files --format stgfsl --interval-minutes 5
    python -m tsjt_basicts.data.prepare --city METR-LA --from ~/Downloads/stgfsl_data --verify
    python -m tsjt_basicts.data.prepare --city my-city --from ./series.csv --sensors ./sensors.csv --edges ./edges.csv

The output is the generic layout (:mod:`tsjt_basicts.data.formats.generic`), one self-contained
folder per city that :func:`tsjt_basicts.data.tasks.load_city` reads. Files of the paper cities
are checked against their published sizes and sha256 digests first; a difference is an error
unless ``--allow-digest-mismatch``. The folder is written under a temporary name and renamed
into place, so a failed run leaves an existing folder as it was. Everything is checked before
work starts: a city name that is not a plain folder name, or that is a shared real city's, a
missing ``--from``, an ``--out`` that is a file, or a ``<CITY>/`` that holds other files than a
prepared city's is refused with one ``error:`` line (exit status 2; ``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pandas as pd

from tsjt_basicts.data.city import MINUTES_PER_DAY, City, DataError
from tsjt_basicts.data.digests import PAPER_GRAPHS, PAPER_SERIES, KnownFile, verify_file
from tsjt_basicts.data.formats import calendar_of_start
from tsjt_basicts.data.formats.basicts_format import load_basicts
from tsjt_basicts.data.formats.csv_format import find_csv_files, load_csv, series_candidates
from tsjt_basicts.data.formats.dcrnn import load_dcrnn
from tsjt_basicts.data.formats.generic import DATA_FILE, META_FILE, load_generic, save_generic
from tsjt_basicts.data.formats.stgfsl import GRAPH_FILE, SERIES_FILE, load_stgfsl
from tsjt_basicts.data.tasks import PAPER_CITIES, REAL_CITIES, data_root_of, shared_datasets_root
from tsjt_basicts.errors import ConfigError, report_user_errors


@dataclass(frozen=True)
class Prepared:
    """A city read from the user's files, with what its folder stores beside it."""

    city: City
    start: str  # ISO time of step 0, or ""
    node_ids: list[str] | None = None
    notes: tuple[str, ...] = ()


Reader = Callable[[argparse.Namespace, Path, "Path | None"], Prepared]
READERS: dict[str, Reader] = {}


def reader(fmt: str) -> Callable[[Reader], Reader]:
    """Register the reader of the ``fmt`` layout (``--format fmt``)."""

    def register(read: Reader) -> Reader:
        if fmt in READERS:
            raise ValueError(f"a reader of {fmt!r} is registered already")
        READERS[fmt] = read
        return read

    return register


CITY_NAME = re.compile(r"\w[\w.-]{0,99}")  # a plain folder name: no separators, not hidden, not . or ..
PREPARED_FILES = {DATA_FILE, META_FILE}


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


def check_target(root: Path, city: str) -> Path:
    """``root/city``, refused where writing it could replace anything but an earlier prepared city."""
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"--out {root}: {existing} is a file; pass a folder (it is created if needed)")
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


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are a :class:`ConfigError` (one ``error:`` line)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message}; see python -m tsjt_basicts.data.prepare --help")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="python -m tsjt_basicts.data.prepare",
        description="Convert your data files into <out>/<CITY>/ (data.npz + meta.json); see datasets/README.md.",
    )
    parser.add_argument("--city", required=True, help=f"a paper city ({', '.join(PAPER_CITIES)}) or your own name")
    parser.add_argument("--from", dest="source", required=True, type=Path, help="folder holding your files, or a .csv")
    parser.add_argument("--format", choices=sorted(READERS), help="layout of your files (default: detected)")
    parser.add_argument("--out", type=Path, help="where <CITY>/ is written (default: the project's datasets/)")
    parser.add_argument("--verify", action="store_true", help="only check the files (digests, readability)")
    parser.add_argument("--allow-digest-mismatch", action="store_true", help="accept paper files that differ")
    parser.add_argument("--interval-minutes", type=int, help="own cities in the stgfsl format: minutes per step")
    parser.add_argument("--steps-per-day", type=int, help="own cities in the stgfsl format (default: a 24 h day)")
    parser.add_argument("--start", default="", help="own cities: ISO time of step 0, e.g. 2020-01-06T00:00")
    parser.add_argument("--zero-is-missing", action=argparse.BooleanOptionalAction, help="own cities: 0 marks missing")
    parser.add_argument("--sensors", type=Path, help="csv: id, lat, lon per sensor (default: sensors.csv beside)")
    parser.add_argument("--edges", type=Path, help="csv: from, to[, weight] links (default: edges.csv beside)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser.parse_args(argv)


SINGLE_FILE_FORMATS = {".csv": "csv", ".npz": "generic"}  # layouts whose --from may be one file


def detect_format(folder: Path) -> str:
    """The layout of ``folder`` (or of the single file ``--from`` names) from the files it holds."""
    if folder.is_file():
        if folder.suffix.lower() in SINGLE_FILE_FORMATS:
            return SINGLE_FILE_FORMATS[folder.suffix.lower()]
        raise ConfigError(f"--from {folder}: pass the folder holding your files (a single file may be a .csv or .npz)")
    if (folder / SERIES_FILE).is_file() or any(folder.glob(f"*/{SERIES_FILE}")):
        return "stgfsl"
    if any(folder.glob("*.h5")):
        return "dcrnn"
    if (folder / "data.npz").is_file():
        return "generic"
    if any((folder / name).is_file() for name in ("data.dat", "desc.json", "meta.json")):
        return "basicts"
    if series_candidates(folder):
        return "csv"
    raise DataError(
        f"{folder}: no dataset.npy, *.h5, data.dat/desc.json, data.npz or *.csv found; pass --format and check --from"
    )


def first_existing(paths: list[Path], what: str) -> Path:
    for path in paths:
        if path.is_file():
            return path
    raise DataError(f"{what} not found; looked for {', '.join(map(str, paths))}")


def stgfsl_inputs(args: argparse.Namespace) -> tuple[Path, Path, list[tuple[Path, KnownFile]]]:
    """``(series folder, graph file, files to verify)``; a paper city may use the shared graph."""
    paper = PAPER_CITIES.get(args.city)
    candidates = [args.source] + ([args.source / paper.folder] if paper else [])
    series = first_existing([c / SERIES_FILE for c in candidates], f"{args.city}: {SERIES_FILE}")
    if not paper:
        return series.parent, series.parent / GRAPH_FILE, []
    graph_key = f"{paper.folder}/{GRAPH_FILE}"
    graph = series.parent / GRAPH_FILE
    if not graph.is_file():
        graph = shared_datasets_root() / "graphs" / graph_key
    return (
        series.parent,
        graph,
        [(series, PAPER_SERIES[f"{paper.folder}/{SERIES_FILE}"]), (graph, PAPER_GRAPHS[graph_key])],
    )


def dcrnn_inputs(args: argparse.Namespace) -> tuple[Path, Path, list[tuple[Path, KnownFile]]]:
    """``(h5 file, graph pickle, files to verify)``; looks in ``--from`` and its ``sensor_graph/``."""
    folders = [args.source, args.source / "sensor_graph"]
    paper = PAPER_CITIES.get(args.city)
    if paper and paper.dcrnn_files:
        h5_name, pickle_name = paper.dcrnn_files
        h5 = first_existing([args.source / h5_name], f"{args.city}: {h5_name}")
        graph_key = f"{paper.folder}/{pickle_name}"
        graph = first_existing(
            [f / pickle_name for f in folders] + [shared_datasets_root() / "graphs" / graph_key], pickle_name
        )
        return h5, graph, [(h5, PAPER_SERIES[h5_name]), (graph, PAPER_GRAPHS[graph_key])]
    if paper:
        raise DataError(f"{args.city} has no DCRNN release; use the ST-GFSL bundle (--format stgfsl)")
    h5 = first_existing(sorted(args.source.glob("*.h5")), f"{args.source}: a *.h5 series")
    graph = first_existing(
        sorted(p for f in folders for p in f.glob("adj_mx*.pkl")), f"{args.source}: an adj_mx*.pkl graph"
    )
    return h5, graph, []


def find_inputs(args: argparse.Namespace, fmt: str) -> tuple[Path, Path | None, list[tuple[Path, KnownFile]]]:
    """``(series file or folder, graph file, files with published digests)`` of the user's files."""
    if fmt == "stgfsl":
        return stgfsl_inputs(args)
    if fmt == "dcrnn":
        return dcrnn_inputs(args)
    return args.source, None, []


def own_missing_convention(args: argparse.Namespace) -> dict:
    """``zero_is_missing`` to pass a reader: the paper's (speed, 0 = missing), the option's, or none."""
    if args.city in PAPER_CITIES:
        return {"zero_is_missing": True}
    return {} if args.zero_is_missing is None else {"zero_is_missing": args.zero_is_missing}


@reader("stgfsl")
def read_stgfsl(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    """An ST-GFSL folder: the calendar is the paper's, or the options' (the files carry none)."""
    paper = PAPER_CITIES.get(args.city)
    interval = paper.interval_minutes if paper else args.interval_minutes
    steps_per_day = None if paper else args.steps_per_day
    check_stgfsl_calendar(interval, steps_per_day)
    start = paper.start if paper else args.start
    weekday, step_of_day = calendar_of_start(start, interval, steps_per_day or MINUTES_PER_DAY // interval, series)
    city = load_stgfsl(
        series,
        interval,
        name=args.city,
        steps_per_day=steps_per_day,
        graph_file=graph,
        start_day_of_week=weekday,
        start_step_of_day=step_of_day,
        **own_missing_convention(args),
    )
    return Prepared(city, start)


@reader("dcrnn")
def read_dcrnn(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    city = load_dcrnn(series, graph, name=args.city, **own_missing_convention(args))
    return Prepared(city, PAPER_CITIES[args.city].start if args.city in PAPER_CITIES else args.start)


@reader("basicts")
def read_basicts(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    return Prepared(load_basicts(series, name=args.city, **own_missing_convention(args)), args.start)


@reader("generic")
def read_generic(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    return Prepared(load_generic(series, name=args.city, **own_missing_convention(args)), args.start)


def option_time(start: str) -> pd.Timestamp | None:
    """``--start`` as a time (None when not given)."""
    try:
        return pd.Timestamp(start) if start else None
    except ValueError:
        raise ConfigError(f"--start {start!r} is not an ISO time; write e.g. 2020-01-06T00:00") from None


@reader("csv")
def read_csv(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    """A wide CSV (:mod:`tsjt_basicts.data.formats.csv_format`): its stamps give the calendar."""
    loaded = load_csv(find_csv_files(series, args.sensors, args.edges), name=args.city, **own_missing_convention(args))
    city = loaded.city
    for option, given, found in (
        ("--interval-minutes", args.interval_minutes, city.interval_minutes),
        ("--steps-per-day", args.steps_per_day, city.steps_per_day),
        ("--start", option_time(args.start), pd.Timestamp(loaded.start)),
    ):
        if given is not None and given != found:
            raise ConfigError(f"{option} {given} disagrees with the CSV's times ({found}); drop {option}")
    return Prepared(city, loaded.start, loaded.sensor_ids, loaded.notes)


def verify_all(known: list[tuple[Path, KnownFile]]) -> list[str]:
    """The problems found in the files with published digests (empty: all match)."""
    problems = []
    for path, expected in known:
        try:
            verify_file(path, expected)
            print(f"ok  {expected.path}: {path}")
        except DataError as problem:
            problems.append(str(problem))
    return problems


def write_city_folder(prepared: Prepared, target: Path, meta: dict) -> None:
    """Write ``target`` under a temporary name, then swap it in; on failure nothing changes."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as error:
        raise ConfigError(f"cannot write in {target.parent} ({error.strerror}); pass a writable --out") from None
    staging.chmod(0o755)  # mkdtemp's 0700 would outlive the rename
    replaced = staging.with_suffix(".old")
    try:
        save_generic(prepared.city, staging, start=prepared.start, node_ids=prepared.node_ids, meta=meta)
        if target.exists():
            os.rename(target, replaced)
        try:
            os.rename(staging, target)
        except OSError:
            if replaced.exists():
                os.rename(replaced, target)
            raise
        shutil.rmtree(replaced, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_before_work(args: argparse.Namespace) -> Path:
    """Refuse bad options before reading anything; the ``<out>/<CITY>`` folder to write."""
    check_city_name(args.city)
    own_settings = (args.interval_minutes, args.steps_per_day, args.zero_is_missing, args.start or None)
    if args.city in PAPER_CITIES and any(setting is not None for setting in own_settings):
        raise ConfigError(
            f"{args.city} is a paper city: its calendar and missing-value convention are fixed; drop those options"
        )
    if not args.source.exists():
        raise ConfigError(f"--from {args.source} does not exist; pass the folder (or .csv file) holding your data")
    for option, path in (("--sensors", args.sensors), ("--edges", args.edges)):
        if path is not None and not path.is_file():
            raise ConfigError(f"{option} {path} is not a file; pass the CSV file or leave {option} out")
        if path is not None and args.format not in (None, "csv"):
            raise ConfigError(f"{option} belongs to --format csv; drop it for --format {args.format}")
    return check_target(data_root_of(args.out), args.city)


def prepare(args: argparse.Namespace) -> int:
    paper = PAPER_CITIES.get(args.city)
    target = check_before_work(args)
    fmt = args.format or detect_format(args.source)
    if args.source.is_file() and fmt not in SINGLE_FILE_FORMATS.values():
        raise ConfigError(f"--format {fmt} reads a folder; pass the folder holding {args.source.name} as --from")
    series, graph, known = find_inputs(args, fmt)
    problems = verify_all(known)
    if paper and not known:
        problems.append(
            f"{args.city}: the {fmt} format has no published digests to check; use the ST-GFSL bundle or DCRNN files"
        )
    if args.allow_digest_mismatch or not problems:
        prepared = READERS[fmt](args, series, graph)
        city = prepared.city
        print("; ".join((city.summary(), *prepared.notes)))
        if paper and (city.num_steps, city.num_nodes) != (paper.num_steps, paper.num_nodes):
            problems.append(
                f"{args.city}: {city.num_steps} steps x {city.num_nodes} nodes, "
                f"the paper's series has {paper.num_steps} x {paper.num_nodes}"
            )
    for problem in problems:
        print(f"{'warning' if args.allow_digest_mismatch else 'error'}: {problem}", file=sys.stderr)
    if args.verify or (problems and not args.allow_digest_mismatch):
        return 1 if problems else 0
    meta = {
        "prepared_from": str(args.source.resolve()),
        "format": fmt,
        "digests_verified": bool(known) and not problems,
    }
    write_city_folder(prepared, target, meta)
    print(f"wrote {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: 0 = done, 1 = a file differs from its published digest, 2 = bad input."""
    argv = sys.argv[1:] if argv is None else argv
    return report_user_errors(lambda: prepare(parse_args(argv)), debug="--debug" in argv)


if __name__ == "__main__":
    sys.exit(main())
