"""ST-GFSL / TPB bundle layout: a folder with ``dataset.npy`` and ``matrix.npy``.

``dataset.npy`` is ``[T, N, C]`` (the bundle's files are float64 with C = 2; channel 0 is the
traffic value, 0 = missing speed); ``matrix.npy`` is the ``[N, N]`` graph in the same node order.
The files carry no calendar: the step interval must be given.
"""
from __future__ import annotations

from pathlib import Path

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.formats import about, read_npy, save_npy

SERIES_FILE = "dataset.npy"
GRAPH_FILE = "matrix.npy"


def load_stgfsl(
    folder: str | Path,
    interval_minutes: int,
    *,
    name: str | None = None,
    steps_per_day: int | None = None,
    zero_is_missing: bool = True,
    all_channels: bool = False,
    graph_file: str | Path | None = None,
    start_day_of_week: int | None = None,
    start_step_of_day: int = 0,
    same_sensors_as: tuple[str, ...] = (),
) -> City:
    """Read an ST-GFSL folder (``graph_file`` overrides ``folder/matrix.npy``).

    Keeps channel 0 only unless ``all_channels``; ``steps_per_day`` defaults to a 24-hour day.
    """
    folder = Path(folder)
    series = read_npy(folder / SERIES_FILE, "the ST-GFSL series file dataset.npy ([T, N, C] float)")
    graph_path = Path(graph_file) if graph_file else folder / GRAPH_FILE
    graph = read_npy(graph_path, "the ST-GFSL graph matrix.npy ([N, N], same node order as dataset.npy)")
    if series.ndim != 3:
        raise DataError(f"{folder / SERIES_FILE} is {series.shape}; ST-GFSL series are [T, N, C] (channel 0 = value)")
    if graph.shape != (series.shape[1],) * 2:
        raise DataError(
            f"{graph_path} is {graph.shape} but {folder / SERIES_FILE} has {series.shape[1]} nodes; "
            "use the matrix.npy of the same bundle folder"
        )
    with about(folder):
        return City(
            name or folder.name,
            series if all_channels else series[..., :1],
            graph,
            interval_minutes,
            steps_per_day or 24 * 60 // interval_minutes,
            zero_is_missing=zero_is_missing,
            start_day_of_week=start_day_of_week,
            start_step_of_day=start_step_of_day,
            same_sensors_as=same_sensors_as,
        )


def save_stgfsl(city: City, folder: str | Path) -> None:
    """Write ``city`` as ``folder/dataset.npy`` (all channels) and ``folder/matrix.npy``."""
    folder = Path(folder)
    save_npy(folder / SERIES_FILE, city.series)
    save_npy(folder / GRAPH_FILE, city.adjacency)
