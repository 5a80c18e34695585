"""Convert a user's data files into the project's layout: ``<out>/<CITY>/data.npz`` + ``meta.json``.

    python -m tsjt_basicts.data.prepare --city METR-LA --from ~/Downloads/stgfsl_data
    python -m tsjt_basicts.data.prepare --city PEMS-BAY --from ~/dcrnn/data --format dcrnn
    python -m tsjt_basicts.data.prepare --city my-city --from ./my_files --format stgfsl --interval-minutes 5
    python -m tsjt_basicts.data.prepare --city METR-LA --from ~/Downloads/stgfsl_data --verify

The output is the generic layout (:mod:`tsjt_basicts.data.formats.generic`), one self-contained
folder per city that :func:`tsjt_basicts.data.tasks.load_city` reads. Files of the paper cities
are checked against their published sizes and sha256 digests first; a difference is an error
unless ``--allow-digest-mismatch``. The folder is written under a temporary name and renamed
into place, so a failed run leaves an existing folder as it was.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.digests import PAPER_GRAPHS, PAPER_SERIES, KnownFile, verify_file
from tsjt_basicts.data.formats import calendar_of_start
from tsjt_basicts.data.formats.basicts_format import load_basicts
from tsjt_basicts.data.formats.dcrnn import load_dcrnn
from tsjt_basicts.data.formats.generic import load_generic, save_generic
from tsjt_basicts.data.formats.stgfsl import GRAPH_FILE, SERIES_FILE, load_stgfsl
from tsjt_basicts.data.tasks import PAPER_CITIES, data_root_of, shared_datasets_root

FORMATS = ("stgfsl", "dcrnn", "basicts", "generic")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tsjt_basicts.data.prepare",
        description="Convert your data files into <out>/<CITY>/ (data.npz + meta.json); see datasets/README.md.",
    )
    parser.add_argument("--city", required=True, help=f"a paper city ({', '.join(PAPER_CITIES)}) or your own name")
    parser.add_argument("--from", dest="source", required=True, type=Path, help="folder holding your files")
    parser.add_argument("--format", choices=FORMATS, help="layout of your files (default: detected)")
    parser.add_argument("--out", type=Path, help="where <CITY>/ is written (default: the project's datasets/)")
    parser.add_argument("--verify", action="store_true", help="only check the files (digests, readability)")
    parser.add_argument("--allow-digest-mismatch", action="store_true", help="accept paper files that differ")
    parser.add_argument("--interval-minutes", type=int, help="own cities in the stgfsl format: minutes per step")
    parser.add_argument("--steps-per-day", type=int, help="own cities in the stgfsl format (default: a 24 h day)")
    parser.add_argument("--start", default="", help="own cities: ISO time of step 0, e.g. 2020-01-06T00:00")
    parser.add_argument("--zero-is-missing", action=argparse.BooleanOptionalAction, help="own cities: 0 marks missing")
    return parser.parse_args(argv)


def detect_format(folder: Path) -> str:
    """The layout of ``folder`` from the files it holds."""
    if (folder / SERIES_FILE).is_file() or any(folder.glob(f"*/{SERIES_FILE}")):
        return "stgfsl"
    if any(folder.glob("*.h5")):
        return "dcrnn"
    if (folder / "data.npz").is_file():
        return "generic"
    if any((folder / name).is_file() for name in ("data.dat", "desc.json", "meta.json")):
        return "basicts"
    raise DataError(
        f"{folder}: no dataset.npy, *.h5, data.dat/desc.json or data.npz found; pass --format and check --from"
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


def read_city(args: argparse.Namespace, fmt: str, series: Path, graph: Path | None) -> City:
    """The city in the user's files, with the paper's settings for a paper city."""
    paper = PAPER_CITIES.get(args.city)
    own = (
        {"zero_is_missing": True}
        if paper
        else ({} if args.zero_is_missing is None else {"zero_is_missing": args.zero_is_missing})
    )
    if fmt == "stgfsl":
        interval = paper.interval_minutes if paper else args.interval_minutes
        if not interval:
            raise DataError(
                "ST-GFSL files carry no calendar: pass --interval-minutes (and --steps-per-day for a service day)"
            )
        steps_per_day = None if paper else args.steps_per_day
        weekday, step_of_day = calendar_of_start(
            paper.start if paper else args.start, interval, steps_per_day or 24 * 60 // interval, series
        )
        return load_stgfsl(
            series,
            interval,
            name=args.city,
            steps_per_day=steps_per_day,
            graph_file=graph,
            start_day_of_week=weekday,
            start_step_of_day=step_of_day,
            **own,
        )
    if fmt == "dcrnn":
        return load_dcrnn(series, graph, name=args.city, **own)
    reader = load_basicts if fmt == "basicts" else load_generic
    return reader(series, name=args.city, **own)


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


def write_city_folder(city: City, target: Path, start: str, meta: dict) -> None:
    """Write ``target`` under a temporary name, then swap it in; on failure nothing changes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would outlive the rename
    replaced = staging.with_suffix(".old")
    try:
        save_generic(city, staging, start=start, meta=meta)
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


def prepare(args: argparse.Namespace) -> int:
    paper = PAPER_CITIES.get(args.city)
    if paper and (args.interval_minutes or args.steps_per_day or args.start or args.zero_is_missing is not None):
        raise DataError(
            f"{args.city} is a paper city: its calendar and missing-value convention are fixed; drop those options"
        )
    fmt = args.format or detect_format(args.source)
    series, graph, known = find_inputs(args, fmt)
    problems = verify_all(known)
    if paper and not known:
        problems.append(
            f"{args.city}: the {fmt} format has no published digests to check; use the ST-GFSL bundle or DCRNN files"
        )
    if args.allow_digest_mismatch or not problems:
        city = read_city(args, fmt, series, graph)
        print(city.summary())
        if paper and (city.num_steps, city.num_nodes) != (paper.num_steps, paper.num_nodes):
            problems.append(
                f"{args.city}: {city.num_steps} steps x {city.num_nodes} nodes, "
                f"the paper's series has {paper.num_steps} x {paper.num_nodes}"
            )
    for problem in problems:
        print(f"{'warning' if args.allow_digest_mismatch else 'error'}: {problem}", file=sys.stderr)
    if args.verify or (problems and not args.allow_digest_mismatch):
        return 1 if problems else 0
    target = data_root_of(args.out) / args.city
    meta = {
        "prepared_from": str(args.source.resolve()),
        "format": fmt,
        "digests_verified": bool(known) and not problems,
    }
    write_city_folder(city, target, paper.start if paper else args.start, meta)
    print(f"wrote {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 = done, 1 = a check failed or bad data)."""
    args = parse_args(argv)
    try:
        return prepare(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
