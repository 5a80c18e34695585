"""Seeded synthetic multi-city traffic SPEED: the embedded default data.

The four real series of the paper (METR-LA, PEMS-BAY, Didi-Chengdu, Didi-Shenzhen) are too large
to ship, so the project's demos and tests run on four synthetic look-alikes, one per paper city:

======================  ==========  ======================  =============================
city                    interval    demo nodes x days       paper nodes x steps
======================  ==========  ======================  =============================
``synthetic-shenzhen``  10 min      52 x 14   (target)      627 x 17,280 (120 days)
``synthetic-la``        5 min       44 x 14                 207 x 34,272 (119 days)
``synthetic-bay``       5 min       64 x 14                 325 x 52,116 (181 days)
``synthetic-chengdu``   10 min      36 x 21                 524 x 17,280 (120 days)
======================  ==========  ======================  =============================

What is modelled (every city runs the same generator with its own spec):

* **Shared calendar shapes.** All cities share one daily/weekly congestion shape: on weekdays a
  morning rush (about 07:45) and an evening rush (about 17:30, a little stronger on Fridays)
  plus a weaker midday load; on weekends one broad, weaker afternoon hump (Sunday weaker than
  Saturday); nights are free-flowing. Peak times jitter from day to day, each day has its own
  city-wide intensity, and each (day, node) pair a little more. This shared structure is what
  makes cross-city transfer meaningful.
* **City-specific level and scale.** Speeds are affinely mapped so that the observed values of a
  city have the whole-series mean/std that the paper's Table 1 (and ST-GFSL) list for its real
  counterpart: METR-LA 58.47/12.91, PEMS-BAY 62.62/9.59, Chengdu 29.10/9.75, Shenzhen 30.57/11.09.
  The two 10-minute (Chinese, urban) cities peak half an hour later, carry more midday load and
  more spread of free-flow speed between roads than the freeway cities.
* **Node-specific sensitivity.** Each sensor has a free-flow speed, a rush sensitivity and a
  direction (inbound roads congest in the morning, outbound in the evening); these fields are
  smoothed over the road graph, so neighbouring sensors look alike.
* **Spatial propagation with delay.** A congestion index ``x`` follows the linear diffusion /
  AR process ``x_t = a x_{t-1} + (1 - a) (u_t + g P x_{t-lag})`` on the row-normalised
  adjacency ``P`` (self-loops removed; row ``i`` lists the roads ``j`` downstream of ``i``, so a
  queue spills back upstream), with persistence ``a`` (a 30-minute time constant), a 10-minute
  lag and gain ``g`` = 0.6, solved exactly up to ``spread_hops`` (4) graph hops (see
  :func:`propagate_congestion`). The drive ``u`` is the calendar load, an AR(1) demand noise
  (20-minute time constant, half of it shared with the graph neighbours) and **incidents**
  (0.2 per sensor and day): random sudden jumps of congestion at one node for 15-90 minutes
  that decay with the persistence and spread, later and weaker, to the upstream neighbours.
  Congestion turns into speed through a Hill-type breakdown curve: sudden on the freeway
  cities (speed holds until the road breaks down), gradual on the urban ones.
* **Speed and sensor noise.** ``speed = free_flow * (1 - depth * h / (1 + h) + noise)`` with
  ``h = (max(x, 0) / level) ** sharpness`` and white Gaussian sensor noise (1.5% of free flow on
  the freeways, 3% for the trajectory-based urban speeds), then mapped affinely to the city's
  mean/std (floored at 5% of the mean, so an observed speed is never 0).
* **Missing values as zeros.** Failed sensors write 0 (``zero_is_missing=True``, like the paper's
  speed files): short outages (5-60 minutes at one sensor), long outages (half a day to three days
  at one sensor) and rare network-wide outages (all sensors, 1-6 steps). About 6% of METR-LA-like
  values are missing (seed-averaged, demo), 1.3% for the Bay, 2% for the Chinese cities.

Graphs: by default each city gets its own random geometric graph (sensors uniform on a unit
square, a thresholded Gaussian kernel of their distances as in DCRNN: weights in [0.1, 1],
self-loops 1, every sensor linked at least to its nearest one); its coordinates are mapped onto a
box of about 0.4 degrees around the real city's centre and returned as ``locations`` (lat, lon),
``graph_source="synthetic"``. Alternatively the simulation runs on a given graph (e.g. the real
``matrix.npy`` of the shared datasets) with ``graph_source="given"`` and no locations.

The target city is ``synthetic-shenzhen`` (the first element of :func:`synthetic_cities`): like
the paper's Shenzhen it is a 10-minute city, so two of its three sources (the 5-minute freeway
cities) differ from it in interval, level and road type, and only Chengdu resembles it; its 14
demo days leave 3 few-shot days and a 20% (2.8-day) test range with room between them under both
the strict and the ST-GFSL protocol.

Everything is deterministic per ``seed`` (NumPy ``SeedSequence`` streams per city and per
component; no global random state) and vectorised over time and nodes; the four demo cities take
well under a second. **These are not real data: every result obtained on them must be labelled
synthetic** (each :class:`~tsjt_basicts.data.city.City` carries ``kind="synthetic"`` and a name
starting with ``synthetic-``), and no number measured on them may be compared with or reported
as one of the paper's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.special import ndtr

from tsjt_basicts.data.city import City, DataError, check_adjacency
from tsjt_basicts.data.synthetic_processes import (
    ar1_noise,
    calendar_load,
    graph_smooth,
    incident_load,
    outage_mask,
    propagate_congestion,
    random_geometric_graph,
    row_normalised,
)

Scale = Literal["demo", "paper"]
SCALES: tuple[str, ...] = ("demo", "paper")
DEFAULT_TARGET = "synthetic-shenzhen"
SPEED_FLOOR = 0.05  # observed speeds are floored at this share of the mean: a value is never 0 (missing)

# Folder of each city's real graph in the shared datasets (``<graph_dir>/<folder>/matrix.npy``).
PAPER_GRAPH_FOLDERS = {
    "synthetic-la": "metr-la",
    "synthetic-bay": "pems-bay",
    "synthetic-chengdu": "chengdu_m",
    "synthetic-shenzhen": "shenzhen",
}


def _help(text: str) -> dict:
    return {"help": text}


@dataclass(frozen=True)
class SyntheticCitySpec:
    """Everything that makes one synthetic city differ from another."""

    name: str = field(metadata=_help("city name; must start with 'synthetic-'"))
    num_nodes: int = field(metadata=_help("number of sensors N"))
    num_days: float = field(metadata=_help("length in days (fractions allowed: steps = round(days * steps_per_day))"))
    interval_minutes: int = field(metadata=_help("minutes between two steps; must divide 1440"))
    mean: float = field(metadata=_help("target mean of the observed speeds (paper Table 1)"))
    std: float = field(metadata=_help("target std of the observed speeds (paper Table 1)"))
    seed_offset: int = field(default=0, metadata=_help("makes this city's random streams differ from other cities'"))
    start_day_of_week: int = field(default=0, metadata=_help("weekday of step 0 (0 = Monday)"))
    mean_degree: float = field(default=6.0, metadata=_help("expected neighbours per sensor of the synthetic graph"))
    center: tuple[float, float] = field(default=(0.0, 0.0), metadata=_help("(lat, lon) of the synthetic map's centre"))
    extent_degrees: float = field(default=0.4, metadata=_help("side of the synthetic map in degrees of latitude"))
    rush_shift_hours: float = field(default=0.0, metadata=_help("city-wide shift of the shared rush hours"))
    midday_weight: float = field(default=0.25, metadata=_help("weekday midday load relative to a rush"))
    weekend_weight: float = field(default=0.35, metadata=_help("Saturday hump relative to a weekday rush"))
    free_flow_cv: float = field(default=0.08, metadata=_help("relative spread of free-flow speed between sensors"))
    congestion_depth: float = field(default=0.75, metadata=_help("largest relative speed drop at full congestion"))
    breakdown_level: float = field(default=1.0, metadata=_help("congestion at which speed lost half the depth"))
    breakdown_sharpness: float = field(default=2.0, metadata=_help("Hill exponent: high = sudden freeway breakdown"))
    sensitivity_spread: float = field(default=0.5, metadata=_help("log-std of rush sensitivity between sensors"))
    rush_intensity: float = field(default=1.0, metadata=_help("scale of the calendar load (congestion units)"))
    demand_noise: float = field(default=0.12, metadata=_help("std of the AR(1) demand noise (half regional)"))
    incidents_per_node_day: float = field(default=0.2, metadata=_help("rate of incidents per sensor and day"))
    persistence_minutes: float = field(default=30.0, metadata=_help("time constant of congestion decay"))
    spread_lag_minutes: float = field(default=10.0, metadata=_help("delay of congestion spreading one hop"))
    spread_gain: float = field(default=0.6, metadata=_help("share of downstream congestion felt upstream (< 1)"))
    spread_hops: int = field(default=4, metadata=_help("graph hops the propagation series is solved for"))
    spread_downstream: bool = field(default=False, metadata=_help("congestion spreads downstream, not back upstream"))
    sensor_noise: float = field(default=0.015, metadata=_help("std of sensor noise relative to free-flow speed"))
    short_outage_fraction: float = field(default=0.01, metadata=_help("share of values lost to 5-60 min outages"))
    long_outage_fraction: float = field(default=0.01, metadata=_help("share of values lost to 0.5-3 day outages"))
    network_outages_per_week: float = field(default=0.5, metadata=_help("rate of all-sensor outages (1-6 steps)"))

    def __post_init__(self) -> None:
        if not self.name.startswith("synthetic-"):
            raise DataError(f"synthetic city name {self.name!r} must start with 'synthetic-' so results are labelled")
        if self.num_nodes < 2:
            raise DataError(f"{self.name}: num_nodes must be >= 2, got {self.num_nodes}")
        if self.interval_minutes <= 0 or (24 * 60) % self.interval_minutes:
            raise DataError(f"{self.name}: interval_minutes must divide 1440, got {self.interval_minutes}")
        if self.num_steps < 2 * self.steps_per_day:
            raise DataError(f"{self.name}: simulate at least 2 days, got {self.num_days}")
        if self.mean <= 0 or self.std <= 0:
            raise DataError(f"{self.name}: mean and std must be positive speeds")
        if not 0 <= self.spread_gain < 1 or self.spread_hops < 0:
            raise DataError(f"{self.name}: spread_gain must lie in [0, 1) and spread_hops be >= 0")
        if not 0 < self.congestion_depth < 1:
            raise DataError(f"{self.name}: congestion_depth must lie in (0, 1)")
        if not 0 <= self.start_day_of_week < 7:
            raise DataError(f"{self.name}: start_day_of_week must be 0 (Monday) .. 6")
        if self.short_outage_fraction + self.long_outage_fraction >= 0.5:
            raise DataError(f"{self.name}: outage fractions must add up to well below 0.5")

    @property
    def steps_per_day(self) -> int:
        return 24 * 60 // self.interval_minutes

    @property
    def num_steps(self) -> int:
        return int(round(self.num_days * self.steps_per_day))

    def steps(self, minutes: float) -> int:
        """``minutes`` in whole steps of this city (at least 1)."""
        return max(1, int(round(minutes / self.interval_minutes)))


_LA = dict(seed_offset=1, interval_minutes=5, mean=58.465786, std=12.905341, start_day_of_week=3,  # 2012-03-01
           mean_degree=7.0, center=(34.10, -118.30), free_flow_cv=0.06, congestion_depth=0.7,
           breakdown_level=1.2, breakdown_sharpness=3.0, sensitivity_spread=0.8,
           short_outage_fraction=0.02, long_outage_fraction=0.035, network_outages_per_week=1.5)
_BAY = dict(seed_offset=2, interval_minutes=5, mean=62.621583, std=9.588114, start_day_of_week=6,  # 2017-01-01
            mean_degree=7.0, center=(37.35, -121.95), free_flow_cv=0.05, congestion_depth=0.65,
            breakdown_level=1.2, breakdown_sharpness=3.0, sensitivity_spread=0.8,
            short_outage_fraction=0.006, long_outage_fraction=0.006, network_outages_per_week=0.5)
_CHENGDU = dict(seed_offset=3, interval_minutes=10, mean=29.098298, std=9.753043, start_day_of_week=0,
                mean_degree=3.0, center=(30.66, 104.07), rush_shift_hours=0.5, midday_weight=0.4,
                free_flow_cv=0.25, congestion_depth=0.6, sensor_noise=0.03,
                breakdown_level=1.0, breakdown_sharpness=1.5, sensitivity_spread=0.5,
                short_outage_fraction=0.01, long_outage_fraction=0.01)
_SHENZHEN = dict(seed_offset=4, interval_minutes=10, mean=30.573561, std=11.092261, start_day_of_week=0,
                 mean_degree=7.0, center=(22.55, 114.06), rush_shift_hours=0.5, midday_weight=0.4,
                 free_flow_cv=0.25, congestion_depth=0.6, sensor_noise=0.03,
                 breakdown_level=1.0, breakdown_sharpness=1.5, sensitivity_spread=0.5,
                 short_outage_fraction=0.01, long_outage_fraction=0.01)

_SIZES = {  # (num_nodes, num_days) per scale
    "demo": {"synthetic-shenzhen": (52, 14), "synthetic-la": (44, 14), "synthetic-bay": (64, 14),
             "synthetic-chengdu": (36, 21)},
    "paper": {"synthetic-shenzhen": (627, 17280 / 144), "synthetic-la": (207, 34272 / 288),
              "synthetic-bay": (325, 52116 / 288), "synthetic-chengdu": (524, 17280 / 144)},
}
_CITY_PARAMS = {"synthetic-shenzhen": _SHENZHEN, "synthetic-la": _LA, "synthetic-bay": _BAY,
                "synthetic-chengdu": _CHENGDU}


def synthetic_specs(scale: str = "demo") -> dict[str, SyntheticCitySpec]:
    """The four cities' specs at ``scale`` ("demo": small and fast; "paper": the paper's sizes)."""
    if scale not in SCALES:
        raise DataError(f"unknown synthetic scale {scale!r}; use one of {SCALES}")
    return {
        name: SyntheticCitySpec(name=name, num_nodes=nodes, num_days=days, **_CITY_PARAMS[name])
        for name, (nodes, days) in _SIZES[scale].items()
    }


def synthetic_cities(
    seed: int = 0,
    scale: str = "demo",
    *,
    target: str = DEFAULT_TARGET,
    graph_dir: str | Path | None = None,
) -> list[City]:
    """The four synthetic cities, the target first (default ``synthetic-shenzhen``), then the sources.

    Args:
        seed: one seed for all four cities (each gets its own stream from it).
        scale: "demo" (36-64 nodes, 14-21 days each, well under a second) or "paper" (the paper's
            node counts and steps; a few seconds).
        target: which of the four comes first as the target.
        graph_dir: only with ``scale="paper"``: a folder holding ``metr-la/``, ``pems-bay/``,
            ``chengdu_m/`` and ``shenzhen/`` with ``matrix.npy`` each (e.g. the shared datasets'
            ``graphs/``); the cities are then simulated on those real road graphs.
    """
    specs = synthetic_specs(scale)
    if target not in specs:
        raise DataError(f"unknown synthetic target {target!r}; use one of {sorted(specs)}")
    if graph_dir is not None and scale != "paper":
        raise DataError("graph_dir holds the real graphs of paper size: use it with scale='paper'")
    order = [target] + [name for name in specs if name != target]
    cities = []
    for name in order:
        adjacency = None
        if graph_dir is not None:
            path = Path(graph_dir) / PAPER_GRAPH_FOLDERS[name] / "matrix.npy"
            if not path.is_file():
                folders = sorted(PAPER_GRAPH_FOLDERS.values())
                raise DataError(f"no graph for {name!r} at {path}; pass the folder holding {folders}")
            adjacency = np.load(path)
        cities.append(simulate_city(specs[name], seed, adjacency))
    return cities


def simulate_city(spec: SyntheticCitySpec, seed: int = 0, adjacency: np.ndarray | None = None) -> City:
    """Simulate one city's speeds on its own random graph, or on ``adjacency`` ([N, N], N = spec.num_nodes).

    The same ``(spec, seed, adjacency)`` always gives the same city; results on it are synthetic.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    rng_graph, rng_nodes, rng_days, rng_dynamics, rng_noise, rng_missing = (
        np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), spec.seed_offset]).spawn(6)
    )
    n = spec.num_nodes
    if adjacency is None:
        adj, locations = random_geometric_graph(n, spec.mean_degree, rng_graph, spec.center, spec.extent_degrees)
        graph_source = "synthetic"
    else:
        if np.shape(adjacency) != (n, n):
            raise DataError(
                f"given graph for {spec.name!r} is {np.shape(adjacency)} but the spec asks for {n} nodes; pass "
                f"a [{n}, {n}] graph, or a spec whose num_nodes is the graph's size (dataclasses.replace)"
            )
        adj, locations, graph_source = check_adjacency(adjacency, n, spec.name), None, "given"
    transition = row_normalised(adj.T if spec.spread_downstream else adj)

    # Node fields, smooth over the graph: free-flow level, rush sensitivity, direction (inbound).
    fields = graph_smooth(rng_nodes.standard_normal((n, 3)), transition)
    free_flow = np.clip(1.0 + spec.free_flow_cv * fields[:, 0], 0.4, None)
    sensitivity = np.exp(spec.sensitivity_spread * fields[:, 1] - 0.5 * spec.sensitivity_spread**2)
    inbound = ndtr(1.2 * fields[:, 2])
    morning_gain = sensitivity * (0.3 + 1.4 * inbound)
    evening_gain = sensitivity * (0.3 + 1.4 * (1.0 - inbound))

    drive = calendar_load(spec, rng_days, morning_gain, evening_gain, sensitivity)
    demand = ar1_noise(rng_dynamics, drive.shape, spec.steps(20.0), spec.demand_noise)
    drive += 0.5 * demand + 0.5 * (demand @ transition.T)  # demand waves are partly regional
    drive += incident_load(spec, rng_dynamics)
    persistence = float(np.exp(-spec.interval_minutes / spec.persistence_minutes))
    congestion = propagate_congestion(
        drive, transition, persistence, spec.spread_gain, spec.steps(spec.spread_lag_minutes), spec.spread_hops
    )

    f32 = np.float32
    pressure = np.maximum(congestion, 0.0, out=congestion)
    pressure *= f32(1.0 / spec.breakdown_level)
    pressure **= f32(spec.breakdown_sharpness)
    raw = 1.0 - f32(spec.congestion_depth) * pressure / (1.0 + pressure)  # relative speed
    raw += f32(spec.sensor_noise) * rng_noise.standard_normal(raw.shape, dtype=f32)
    raw *= free_flow.astype(f32)
    scale = f32(spec.std / raw.std(dtype=np.float64))
    speed = (raw - f32(raw.mean(dtype=np.float64))) * scale + f32(spec.mean)  # the city's level and scale
    np.maximum(speed, f32(SPEED_FLOOR * spec.mean), out=speed)
    speed[outage_mask(spec, rng_missing)] = 0.0  # failed sensors write 0, like the real speed files

    return City(
        name=spec.name,
        series=speed.astype(np.float32, copy=False),
        adjacency=adj,
        interval_minutes=spec.interval_minutes,
        steps_per_day=spec.steps_per_day,
        zero_is_missing=True,
        locations=locations,
        graph_source=graph_source,
        kind="synthetic",
        start_day_of_week=spec.start_day_of_week,
    )


__all__ = [
    "SyntheticCitySpec",
    "synthetic_specs",
    "synthetic_cities",
    "simulate_city",
    "propagate_congestion",
    "random_geometric_graph",
    "PAPER_GRAPH_FOLDERS",
    "DEFAULT_TARGET",
]
