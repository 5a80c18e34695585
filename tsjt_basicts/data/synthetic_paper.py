"""Synthetic stand-ins for the paper's four cities at the paper's scale, on their real road graphs.

TSJT ("Drawing Informative Gradients from Sources: a one-stage transfer learning framework for
cross-city spatiotemporal forecasting", AAAI 2025) is evaluated on METR-LA, PEMS-BAY,
Didi-Chengdu and Didi-Shenzhen (its Table 1). Their series cannot be had on these machines, but
their road graphs can (``<shared>/graphs/<folder>/matrix.npy``, checked against their sha256). The
cities ``synthetic-paper-<CITY>`` run the generator of :mod:`tsjt_basicts.data.synthetic` on the
real graph of ``<CITY>`` with Table 1's size and interval, so every method meets the paper's scale
(207-627 nodes, 17k-52k steps); the tasks ``synthetic-paper-<CITY>`` (:data:`~tsjt_basicts.data.
tasks.TASKS`) take that city as the target and the other three as sources, like the paper's tasks.

==========  =====  ======  ========  ====================  ======================
city        nodes  steps   interval  speed mean / std      graph (shared file)
==========  =====  ======  ========  ====================  ======================
METR-LA     207    34,272  5 min     58.47 / 12.91 mph     ``metr-la/matrix.npy``
PEMS-BAY    325    52,116  5 min     62.62 /  9.59 mph     ``pems-bay/matrix.npy``
Chengdu     524    17,280  10 min    29.10 /  9.75 km/h    ``chengdu_m/matrix.npy``
Shenzhen    627    17,280  10 min    30.57 / 11.09 km/h    ``shenzhen/matrix.npy``
==========  =====  ======  ========  ====================  ======================

Nodes, steps and intervals are Table 1's (:data:`~tsjt_basicts.data.tasks.PAPER_CITIES`). The
means / stds are the normalisation statistics that ST-GFSL and TPB publish for the four series (as
quoted in the shared datasets' README); they are those of the observed (non-zero) speeds: with
METR-LA's ~7% zeros counted as values they give DCRNN's published 54.4 / 19.5 mph. The generator
matches them on its observed values, then writes 0 where a sensor failed (zero = missing, as in
the real speed files).

Deviations from the real data (everything else is :mod:`tsjt_basicts.data.synthetic`'s model):
the calendar, congestion and outage processes are simulated, not measured; the start weekdays are
the real ones for METR-LA (Thursday 2012-03-01) and PEMS-BAY (Sunday 2017-01-01), Monday for the
two Didi cities (their dates are not given); the values are float32 speeds with one channel.

Every city is deterministic per ``seed`` (its own random streams, whichever task it is in), has
``kind="synthetic"`` and a name starting with ``synthetic-``: **results on them are synthetic and
never comparable with the paper's numbers**. Generation is vectorised NumPy in float32: PEMS-BAY
(52,116 x 325) takes a few seconds and well under 1 GB.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.synthetic import PAPER_GRAPH_FOLDERS, SyntheticCitySpec, simulate_city, synthetic_specs
from tsjt_basicts.data.tasks import PAPER_CITIES, SHARED_DATASETS_ENV, SYNTHETIC_PAPER_PREFIX, paper_graph_file

# synthetic.py's look-alike of each paper city, found through the graph folder they share
_LOOK_ALIKE = {folder: name for name, folder in PAPER_GRAPH_FOLDERS.items()}


def synthetic_paper_spec(city: str, days: float | None = None) -> SyntheticCitySpec:
    """The generator's spec of ``city`` (a paper city) at Table 1's size and interval.

    ``days`` simulates only that many days (quick looks, tests); None: the paper's length.
    """
    if city not in PAPER_CITIES:
        raise DataError(f"unknown paper city {city!r}; use one of {', '.join(PAPER_CITIES)}")
    paper = PAPER_CITIES[city]
    steps_per_day = 24 * 60 // paper.interval_minutes
    return replace(
        synthetic_specs("paper")[_LOOK_ALIKE[paper.folder]],
        name=SYNTHETIC_PAPER_PREFIX + city,
        num_nodes=paper.num_nodes,
        num_days=paper.num_steps / steps_per_day if days is None else days,
        interval_minutes=paper.interval_minutes,
    )


def synthetic_paper_city(
    city: str, seed: int = 0, shared_root: str | Path | None = None, days: float | None = None
) -> City:
    """The synthetic ``city`` (a paper city's name) simulated on its real, digest-checked road graph.

    ``shared_root`` is the shared datasets folder (default: as :func:`~tsjt_basicts.data.tasks.
    shared_datasets_root`); ``days`` as in :func:`synthetic_paper_spec`.
    """
    spec = synthetic_paper_spec(city, days)
    try:
        graph_file = paper_graph_file(city, shared_root)
    except DataError as error:
        raise DataError(
            f"{spec.name} runs on the real {city} graph: {error} (pass shared_root, or set {SHARED_DATASETS_ENV} "
            "to the shared datasets folder)"
        ) from error
    return simulate_city(spec, seed, np.load(graph_file))


__all__ = ["synthetic_paper_spec", "synthetic_paper_city"]
