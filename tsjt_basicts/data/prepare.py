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
work starts (:mod:`tsjt_basicts.data.prepare_checks`): a city name that is not a plain folder
name, or that is a shared real city's, a missing ``--from``, an ``--out`` that is a file or in the
shared reference data, a ``<CITY>/`` that holds ``--from`` or other files than a prepared city's,
options the layout would ignore or that contradict its calendar, and a series without one
observed value are refused with one ``error:`` line (exit status 2; ``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tsjt_basicts.data.city import MINUTES_PER_DAY, City, DataError
from tsjt_basicts.data.digests import PAPER_GRAPHS, PAPER_SERIES, KnownFile, verify_file
from tsjt_basicts.data.formats import calendar_of_start
from tsjt_basicts.data.formats.basicts_format import load_basicts
from tsjt_basicts.data.formats.csv_format import find_csv_files, load_csv, series_candidates
from tsjt_basicts.data.formats.dcrnn import load_dcrnn_with_start
from tsjt_basicts.data.formats.generic import load_generic, save_generic, stored_start
from tsjt_basicts.data.formats.stgfsl import GRAPH_FILE, SERIES_FILE, load_stgfsl
from tsjt_basicts.data.prepare_checks import (
    check_city_name,
    check_stgfsl_calendar,
    check_target,
    refuse_csv_only_options,
    refuse_source_in_target,
    refuse_unusable,
    settle_calendar_options,
)
from tsjt_basicts.data.tasks import PAPER_CITIES, data_root_of, shared_datasets_root
from tsjt_basicts.errors import ConfigError, OneLineParser, run_command


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


def parser() -> OneLineParser:
    """The command line of ``python -m tsjt_basicts.data.prepare``."""
    cli = OneLineParser(
        prog="python -m tsjt_basicts.data.prepare",
        description="Convert your data files into <out>/<CITY>/ (data.npz + meta.json); see datasets/README.md.",
    )
    cli.add_argument("--city", required=True, help=f"a paper city ({', '.join(PAPER_CITIES)}) or your own name")
    cli.add_argument("--from", dest="source", required=True, type=Path, help="folder holding your files, or a .csv")
    cli.add_argument("--format", choices=sorted(READERS), help="layout of your files (default: detected)")
    cli.add_argument("--out", type=Path, help="where <CITY>/ is written (default: the project's datasets/)")
    cli.add_argument("--verify", action="store_true", help="only check the files (digests, readability)")
    cli.add_argument("--allow-digest-mismatch", action="store_true", help="accept paper files that differ")
    cli.add_argument("--interval-minutes", type=int, help="own stgfsl cities: minutes per step (others: a check)")
    cli.add_argument("--steps-per-day", type=int, help="own stgfsl cities (default: a 24 h day; others: a check)")
    cli.add_argument("--start", default="", help="own cities: ISO time of step 0, where the files give none")
    cli.add_argument("--zero-is-missing", action=argparse.BooleanOptionalAction, help="own cities: 0 marks missing")
    cli.add_argument("--sensors", type=Path, help="csv: id, lat, lon per sensor (default: sensors.csv beside)")
    cli.add_argument("--edges", type=Path, help="csv: from, to[, weight] links (default: edges.csv beside)")
    cli.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return cli


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
    """A DCRNN release: the calendar is the h5 index's."""
    return Prepared(*load_dcrnn_with_start(series, graph, name=args.city, **own_missing_convention(args)))


@reader("basicts")
def read_basicts(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    """A BasicTS folder: the calendar is its interval and time features (no start date)."""
    return Prepared(load_basicts(series, name=args.city, **own_missing_convention(args)), "")


@reader("generic")
def read_generic(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    """A ``data.npz``: the calendar is the one it stores."""
    return Prepared(load_generic(series, name=args.city, **own_missing_convention(args)), stored_start(series))


@reader("csv")
def read_csv(args: argparse.Namespace, series: Path, graph: Path | None) -> Prepared:
    """A wide CSV (:mod:`tsjt_basicts.data.formats.csv_format`): its stamps give the calendar."""
    loaded = load_csv(find_csv_files(series, args.sensors, args.edges), name=args.city, **own_missing_convention(args))
    return Prepared(loaded.city, loaded.start, loaded.sensor_ids, loaded.notes)


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
    target = check_target(data_root_of(args.out), args.city)
    refuse_source_in_target(args.source, target)
    return target


def read_checked(args: argparse.Namespace, fmt: str, series: Path, graph: Path | None) -> Prepared:
    """The reader's city, its calendar settled with the options, refused when nothing in it is observed."""
    prepared = READERS[fmt](args, series, graph)
    if fmt != "stgfsl":  # the other layouts carry their own calendar
        city, start = settle_calendar_options(
            prepared.city, prepared.start, args.source, args.interval_minutes, args.steps_per_day, args.start
        )
        prepared = replace(prepared, city=city, start=start)
    refuse_unusable(prepared.city, args.source)
    return prepared


def summary_line(prepared: Prepared) -> str:
    """What was read; a correlation graph is not stored (it is built from training data when loaded)."""
    city = prepared.city
    graph = (
        "graph: series correlations, built from training data when it is loaded"
        if city.graph_source == "correlation"
        else city.graph_summary()
    )
    return "; ".join((f"{city.series_summary()}, {graph}", *prepared.notes))


def prepare(args: argparse.Namespace) -> int:
    paper = PAPER_CITIES.get(args.city)
    target = check_before_work(args)
    fmt = args.format or detect_format(args.source)
    refuse_csv_only_options({"--sensors": args.sensors, "--edges": args.edges}, fmt, args.source)
    if args.source.is_file() and fmt not in SINGLE_FILE_FORMATS.values():
        raise ConfigError(f"--format {fmt} reads a folder; pass the folder holding {args.source.name} as --from")
    series, graph, known = find_inputs(args, fmt)
    problems = verify_all(known)
    if paper and not known:
        problems.append(
            f"{args.city}: the {fmt} format has no published digests to check; use the ST-GFSL bundle or DCRNN files"
        )
    if args.allow_digest_mismatch or not problems:
        prepared = read_checked(args, fmt, series, graph)
        city = prepared.city
        print(summary_line(prepared))
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
    return run_command(parser(), argv, prepare)


if __name__ == "__main__":
    sys.exit(main())
