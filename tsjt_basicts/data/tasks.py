"""Named cities and cross-city tasks: ``load_city("melbourne")``, ``load_task("metro")``.

Paper cities (METR-LA, PEMS-BAY, Chengdu, Shenzhen) are read from ``<data_root>/<CITY>/`` as
written by ``python -m tsjt_basicts.data.prepare`` (default data root: the project's
``datasets/``). The small real cities are read from ``<shared>/real/`` (default: the
``TSJT_SHARED_DATASETS`` environment variable, else ``../shared/datasets`` beside the project).
The synthetic stand-ins ``synthetic-paper-<CITY>`` of the paper cities are generated per seed on
the real graphs of ``<shared>/graphs/`` (:mod:`tsjt_basicts.data.synthetic_paper`). A prepared
city of any other name is read from ``<data_root>/<name>/``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.digests import PAPER_GRAPHS, verify_file
from tsjt_basicts.data.formats.generic import DATA_FILE, load_generic
from tsjt_basicts.data.graphs import with_correlation_graph
from tsjt_basicts.data.split import Protocol, check_sources, check_task_protocol, split_source
from tsjt_basicts.data.transfer_benchmark import CONFLICTS, TRANSFER_TASKS, transfer_benchmark_cities
from tsjt_basicts.data.task_spec import SPEC_EXAMPLE, Task, TaskRef, is_task_file, read_task_file, task_from_spec

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS_ENV = "TSJT_SHARED_DATASETS"


@dataclass(frozen=True)
class PaperCity:
    """A city of the paper: its folder in the ST-GFSL bundle, calendar, size and DCRNN files."""

    folder: str
    interval_minutes: int
    num_nodes: int
    num_steps: int
    start: str  # ISO time of step 0 ("" when unknown)
    dcrnn_files: tuple[str, str] | None = None  # (series .h5, graph pickle) of the DCRNN release
    same_sensors_as: tuple[str, ...] = ()


@dataclass(frozen=True)
class RealCity:
    """A small real city of ``shared/datasets/real``."""

    folder: str
    zero_is_missing: bool = False
    adjacency_is_distance: bool = False
    same_sensors_as: tuple[str, ...] = ()


PAPER_CITIES = {
    "METR-LA": PaperCity("metr-la", 5, 207, 34272, "2012-03-01T00:00", ("metr-la.h5", "adj_mx.pkl"), ("los-angeles",)),
    "PEMS-BAY": PaperCity("pems-bay", 5, 325, 52116, "2017-01-01T00:00", ("pems-bay.h5", "adj_mx_bay.pkl")),
    "Chengdu": PaperCity("chengdu_m", 10, 524, 17280, ""),
    "Shenzhen": PaperCity("shenzhen", 10, 627, 17280, ""),
}

REAL_CITIES = {
    "beijing-metro": RealCity("beijing_metro_flow"),
    "hangzhou-metro": RealCity("hangzhou_metro_inflow"),
    # Its values have no zeros or NaN (interpolated by T-GCN); 0 = missing is the speed convention.
    "los-angeles": RealCity("los_angeles_loop_speed", zero_is_missing=True, same_sensors_as=("METR-LA",)),
    "melbourne": RealCity("melbourne_scats_volume"),
    "montevideo": RealCity("montevideo_bus_inflow", adjacency_is_distance=True),
}

# synthetic city (and task) name -> the paper city it stands in for (tsjt_basicts.data.synthetic_paper)
SYNTHETIC_PAPER_PREFIX = "synthetic-paper-"
SYNTHETIC_PAPER_CITIES = {SYNTHETIC_PAPER_PREFIX + city: city for city in PAPER_CITIES}

SYNTHETIC_TASK = "synthetic"

TASKS = {
    task.name: task
    for task in (
        Task("metro", "hangzhou-metro", ("beijing-metro",), "metro inflow, 10 min: Hangzhou from Beijing"),
        Task(
            "la-speed",
            "los-angeles",
            ("melbourne", "beijing-metro", "montevideo"),
            "LA freeway speed from three cities of other modalities (volume, metro, bus)",
        ),
        Task(
            "melbourne-volume",
            "melbourne",
            ("los-angeles", "beijing-metro", "montevideo"),
            "Melbourne vehicle volume from speed, metro and bus cities",
        ),
        *(
            Task(city, city, tuple(c for c in PAPER_CITIES if c != city), f"paper task: {city} from the other three")
            for city in PAPER_CITIES
        ),
        *(
            Task(
                name,
                name,
                tuple(source for source in SYNTHETIC_PAPER_CITIES if source != name),
                f"synthetic, paper scale: a stand-in for {city} (its real graph) from the other three",
            )
            for name, city in SYNTHETIC_PAPER_CITIES.items()
        ),
        Task(
            SYNTHETIC_TASK,
            "(generated)",
            (),
            "synthetic cities of tsjt_basicts.data.synthetic; the first is the target",
        ),
        *(Task(name, "(generated)", (), f"synthetic: {conflict.description}") for name, conflict in CONFLICTS.items()),
    )
}


def resolve_task(task: TaskRef) -> Task:
    """The :class:`Task` of a registered name, a spec mapping, or a task file (``.toml`` / ``.json``)."""
    if isinstance(task, Task):
        return task
    if isinstance(task, Mapping):
        resolved = task_from_spec(task)
    elif isinstance(task, (str, Path)) and is_task_file(task):
        resolved = read_task_file(task)
    elif isinstance(task, str) and task in TASKS:
        return TASKS[task]
    else:
        raise DataError(
            f"unknown task {task!r}; known tasks: {', '.join(TASKS)}; or give a spec such as {SPEC_EXAMPLE} "
            "or a task file my_task.toml (see tsjt_basicts/data/task_spec.py)"
        )
    if resolved.name.lower() in {name.lower() for name in TASKS}:
        raise DataError(f"your task is named {resolved.name!r}, like a built-in task; give it another name")
    return resolved


def task_label(task: TaskRef) -> str:
    """The name a task's results are filed under."""
    return resolve_task(task).name


def shared_datasets_root(shared_root: str | Path | None = None) -> Path:
    """The shared reference data: the argument, else $TSJT_SHARED_DATASETS, else ../shared/datasets."""
    return Path(shared_root or os.environ.get(SHARED_DATASETS_ENV) or PROJECT_ROOT.parent / "shared" / "datasets")


def data_root_of(data_root: str | Path | None = None) -> Path:
    """Where prepared cities live: the argument, else the project's ``datasets/``."""
    return Path(data_root) if data_root else PROJECT_ROOT / "datasets"


def paper_graph_file(name: str, shared_root: str | Path | None = None) -> Path:
    """The verified ``matrix.npy`` of a paper city in the shared graphs folder."""
    known = PAPER_GRAPHS[f"{PAPER_CITIES[name].folder}/matrix.npy"]
    path = shared_datasets_root(shared_root) / "graphs" / known.path
    verify_file(path, known)
    return path


def missing_paper_series(name: str, folder: Path) -> DataError:
    spec = PAPER_CITIES[name]
    dcrnn = f" or {spec.dcrnn_files[0]} (with {spec.dcrnn_files[1]}) from the DCRNN release" if spec.dcrnn_files else ""
    return DataError(
        f"{name}: no prepared series in {folder} ({DATA_FILE}). Obtain {spec.folder}/dataset.npy "
        f"([{spec.num_steps}, {spec.num_nodes}, 2]) from the ST-GFSL / TPB data bundle{dcrnn}, then run "
        f"`python -m tsjt_basicts.data.prepare --city {name} --from /path/to/the/downloaded/folder`, which checks "
        "them against the published sha256 digests (add --verify to only check); see datasets/README.md"
    )


def load_city(
    name: str,
    data_root: str | Path | None = None,
    shared_root: str | Path | None = None,
    protocol: Protocol = Protocol(),
    seed: int = 0,
) -> City:
    """Load a paper city, a shared real city, a synthetic paper city, or a prepared city by name.

    ``protocol`` sets the training range of a correlation graph (cities with neither graph nor
    coordinates, e.g. hangzhou-metro): the few-shot training range of a target under it.
    ``seed`` only matters for a generated (synthetic) city.
    """
    prepared = data_root_of(data_root) / name
    if name in SYNTHETIC_PAPER_CITIES:
        from tsjt_basicts.data.synthetic_paper import synthetic_paper_city  # imports this module

        return synthetic_paper_city(SYNTHETIC_PAPER_CITIES[name], seed, shared_root)
    if name in PAPER_CITIES:
        spec = PAPER_CITIES[name]
        if not (prepared / DATA_FILE).is_file():
            raise missing_paper_series(name, prepared)
        city = load_generic(
            prepared, name=name, zero_is_missing=True, protocol=protocol, same_sensors_as=spec.same_sensors_as
        )
        if city.num_nodes != spec.num_nodes:
            raise DataError(f"{prepared}: {city.num_nodes} nodes, {name} has {spec.num_nodes}; prepare it again")
        return city
    if name in REAL_CITIES:
        if (prepared / DATA_FILE).is_file():
            raise DataError(
                f"{prepared} holds a prepared city named like the shared city {name!r}, which would be ignored; "
                "rename its folder (and its name in your task) to a name of your own"
            )
        spec = REAL_CITIES[name]
        folder = shared_datasets_root(shared_root) / "real" / spec.folder
        if not folder.is_dir():
            raise DataError(
                f"{name}: {folder} not found; pass shared_root or set {SHARED_DATASETS_ENV} to the shared datasets"
            )
        return load_generic(
            folder,
            name=name,
            zero_is_missing=spec.zero_is_missing,
            adjacency_is_distance=spec.adjacency_is_distance,
            protocol=protocol,
            same_sensors_as=spec.same_sensors_as,
        )
    if (prepared / DATA_FILE).is_file():
        return load_generic(prepared, name=name, protocol=protocol)
    known = [*PAPER_CITIES, *REAL_CITIES, *SYNTHETIC_PAPER_CITIES]
    raise DataError(
        f"unknown city {name!r}: known cities are {', '.join(known)}; or prepare your own into {prepared} "
        "with `python -m tsjt_basicts.data.prepare --city NAME --from FOLDER`"
    )


def as_source(city: City) -> City:
    """A source city: a correlation graph may use its whole series (it is all training data)."""
    return with_correlation_graph(city, split_source(city).train) if city.graph_source == "correlation" else city


def load_task(
    task: TaskRef,
    data_root: str | Path | None = None,
    shared_root: str | Path | None = None,
    seed: int = 0,
    protocol: Protocol = Protocol(),
) -> tuple[City, list[City]]:
    """``(target, sources)`` of a task (name, spec or task file), checked so that no source holds target data."""
    task = resolve_task(task)
    if task.name == SYNTHETIC_TASK:
        from tsjt_basicts.data.synthetic import synthetic_cities  # hook: written separately, imported lazily

        target, *sources = synthetic_cities(seed)
    elif task.name in TRANSFER_TASKS:
        target, *sources = transfer_benchmark_cities(task.name, seed)
    else:
        root = task.data_root or data_root
        target = load_city(task.target, root, shared_root, protocol, seed)
        sources = [as_source(load_city(source, root, shared_root, protocol, seed)) for source in task.sources]
    check_sources(target, sources)
    check_task_protocol(target, sources, protocol)
    return target, sources
