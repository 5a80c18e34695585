"""The components of the synthetic cities' generating process (:mod:`tsjt_basicts.data.synthetic`
describes the model): road graph, graph smoothing, the shared calendar load, demand noise,
incidents, outages and the delayed spread of congestion over the graph. Each takes a
:class:`~tsjt_basicts.data.synthetic.SyntheticCitySpec` and its own random stream."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import lfilter

from tsjt_basicts.data.city import DataError

if TYPE_CHECKING:
    from tsjt_basicts.data.synthetic import SyntheticCitySpec

KERNEL_THRESHOLD = 0.1  # DCRNN's threshold on Gaussian-kernel weights


# The shared calendar shape (hours of the day): (centre, width) of each Gaussian bump.
MORNING_RUSH = (7.75, 1.0)
EVENING_RUSH = (17.5, 1.3)
MIDDAY_LOAD = (12.5, 2.5)
WEEKEND_HUMP = (14.0, 3.0)
FRIDAY_EVENING_FACTOR = 1.15
WEEKEND_WEIGHTS = {5: 1.0, 6: 0.8}  # Saturday, Sunday (times the spec's weekend_weight)


def random_geometric_graph(
    num_nodes: int,
    mean_degree: float,
    rng: np.random.Generator,
    center: tuple[float, float] = (0.0, 0.0),
    extent_degrees: float = 0.4,
) -> tuple[np.ndarray, np.ndarray]:
    """Thresholded Gaussian-kernel graph of random points; returns ([N, N] weights, [N, 2] lat/lon).

    The kernel width makes the weight fall to 0.1 (DCRNN's threshold) at the radius holding
    ``mean_degree`` neighbours on average; every node keeps at least its nearest neighbour.
    """
    xy = rng.uniform(size=(num_nodes, 2))
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    radius = np.sqrt(mean_degree / (np.pi * num_nodes))
    sigma = radius / np.sqrt(np.log(1.0 / KERNEL_THRESHOLD))
    weights = np.exp(-((dist / sigma) ** 2))
    weights[weights < KERNEL_THRESHOLD] = 0.0
    np.fill_diagonal(dist, np.inf)
    nearest = dist.argmin(axis=1)
    rows = np.arange(num_nodes)
    link = np.maximum(np.exp(-((dist[rows, nearest] / sigma) ** 2)), KERNEL_THRESHOLD)
    weights[rows, nearest] = np.maximum(weights[rows, nearest], link)
    weights[nearest, rows] = np.maximum(weights[nearest, rows], link)
    np.fill_diagonal(weights, 1.0)  # self-loops, as in the real matrix.npy files
    lat = center[0] + (xy[:, 1] - 0.5) * extent_degrees
    lon = center[1] + (xy[:, 0] - 0.5) * extent_degrees / np.cos(np.radians(center[0]))
    return weights.astype(np.float32), np.stack([lat, lon], axis=1)


def row_normalised(adjacency: np.ndarray) -> np.ndarray:
    """Row-stochastic transition matrix without self-loops; isolated rows stay 0."""
    p = np.array(adjacency, dtype=np.float32)
    np.fill_diagonal(p, 0.0)
    rows = p.sum(axis=1, keepdims=True)
    return np.divide(p, rows, out=np.zeros_like(p), where=rows > 0)


def graph_smooth(values: np.ndarray, transition: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Average ``values`` ([N, k]) with graph neighbours a few times, then re-standardise per column."""
    has_neighbours = transition.sum(axis=1, keepdims=True)
    for _ in range(rounds):
        values = 0.5 * values + 0.5 * (transition @ values + (1.0 - has_neighbours) * values)
    values = values - values.mean(axis=0)
    return values / np.maximum(values.std(axis=0), 1e-8)


def _bump(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((hours - centre) / width) ** 2)


def calendar_load(
    spec: SyntheticCitySpec,
    rng: np.random.Generator,
    morning_gain: np.ndarray,
    evening_gain: np.ndarray,
    sensitivity: np.ndarray,
) -> np.ndarray:
    """``[T, N]`` congestion drive of the shared weekday/weekend shapes, with day-to-day variation."""
    steps, per_day = spec.num_steps, spec.steps_per_day
    day = np.arange(steps) // per_day
    num_days = int(day[-1]) + 1
    weekday = (day + spec.start_day_of_week) % 7
    jitter = rng.normal(0.0, 0.25, num_days)  # peak times move by ~15 min from day to day
    day_level = np.clip(1.0 + 0.12 * rng.standard_normal(num_days), 0.5, None)
    node_day_level = np.clip(1.0 + 0.1 * rng.standard_normal((num_days, spec.num_nodes)), 0.5, None)
    hours = (np.arange(steps) % per_day) * (spec.interval_minutes / 60.0) - spec.rush_shift_hours - jitter[day]

    is_workday = weekday < 5
    evening_factor = np.where(weekday == 4, FRIDAY_EVENING_FACTOR, 1.0)
    weekend_factor = spec.weekend_weight * np.select([weekday == 5, weekday == 6], list(WEEKEND_WEIGHTS.values()))
    morning = np.where(is_workday, _bump(hours, *MORNING_RUSH), 0.0)
    evening = np.where(is_workday, evening_factor * _bump(hours, *EVENING_RUSH), 0.0)
    other = np.where(
        is_workday, spec.midday_weight * _bump(hours, *MIDDAY_LOAD), weekend_factor * _bump(hours, *WEEKEND_HUMP)
    )
    f32 = np.float32
    load = morning.astype(f32)[:, None] * morning_gain.astype(f32)
    load += evening.astype(f32)[:, None] * evening_gain.astype(f32)
    load += other.astype(f32)[:, None] * sensitivity.astype(f32)
    load *= (spec.rush_intensity * day_level[day]).astype(f32)[:, None]
    load *= node_day_level.astype(f32)[day]
    return load


def ar1_noise(rng: np.random.Generator, shape: tuple[int, int], time_constant_steps: int, std: float) -> np.ndarray:
    """Independent AR(1) series per column with stationary ``std`` and the given time constant."""
    phi = float(np.exp(-1.0 / time_constant_steps))
    white = rng.standard_normal(shape, dtype=np.float32)
    return lfilter(np.float32([std * np.sqrt(1.0 - phi**2)]), np.float32([1.0, -phi]), white, axis=0)


def incident_load(spec: SyntheticCitySpec, rng: np.random.Generator) -> np.ndarray:
    """``[T, N]`` drive of incidents: sudden blocks of 15-90 minutes of extra congestion at one node."""
    steps, n = spec.num_steps, spec.num_nodes
    count = rng.poisson(spec.incidents_per_node_day * n * spec.num_days)
    start = rng.integers(0, steps, count)
    duration = np.maximum(1, np.round(rng.uniform(15, 90, count) / spec.interval_minutes)).astype(int)
    stop = np.minimum(start + duration, steps)
    node = rng.integers(0, n, count)
    size = rng.uniform(0.8, 2.0, count).astype(np.float32)
    return _intervals(steps, n, start, stop, node, size)


def _intervals(steps: int, n: int, start, stop, node, value) -> np.ndarray:
    """Sum of ``value`` over each half-open interval ``[start, stop)`` at ``node``, as ``[T, N]``."""
    diff = np.zeros((steps + 1, n), dtype=np.float32)
    np.add.at(diff, (start, node), value)
    np.add.at(diff, (stop, node), -np.asarray(value))
    return np.cumsum(diff[:-1], axis=0)


def outage_mask(spec: SyntheticCitySpec, rng: np.random.Generator) -> np.ndarray:
    """``[T, N]`` True where a sensor failed: short and long outages at one sensor, rare network-wide ones."""
    steps, n, per_day = spec.num_steps, spec.num_nodes, spec.steps_per_day
    lengths = []
    for fraction, low, high in (
        (spec.short_outage_fraction, spec.steps(5), spec.steps(60)),
        (spec.long_outage_fraction, per_day // 2, 3 * per_day),
    ):
        count = rng.poisson(fraction * steps * n / ((low + high) / 2))
        lengths.append(rng.integers(low, high + 1, count))
    length = np.concatenate(lengths)
    start = rng.integers(0, steps, len(length))
    node = rng.integers(0, n, len(length))
    down = _intervals(steps, n, start, np.minimum(start + length, steps), node, np.ones(len(length), np.float32)) > 0.5
    network = rng.poisson(spec.network_outages_per_week * spec.num_days / 7)
    for first, size in zip(rng.integers(0, steps, network), rng.integers(1, 7, network)):
        down[first : first + size] = True
    return down


def propagate_congestion(
    drive: np.ndarray, transition: np.ndarray, persistence: float, gain: float, lag: int, hops: int
) -> np.ndarray:
    """Solve ``x_t = a x_{t-1} + (1 - a) (u_t + g P x_{t-lag})`` for ``x`` ([T, N]) up to ``hops`` hops.

    With ``G = (1 - a) / (1 - a z^-1)`` (an exponential filter along time), the solution is the
    series ``x = sum_k (g G P z^-lag)^k G u``; term ``k`` is the congestion that travelled ``k``
    hops, each hop ``lag`` steps later and ``g`` times weaker, so truncating at ``hops`` leaves an
    error of order ``g ** (hops + 1)``. Vectorised: ``hops + 1`` filters over time and ``hops``
    products with ``P`` (row ``i`` of ``P`` averages the roads downstream of ``i``).
    """
    if lag < 1:
        raise DataError(f"the propagation lag must be at least one step, got {lag}")
    b, a = np.float32([1.0 - persistence]), np.float32([1.0, -persistence])
    drive = np.asarray(drive, dtype=np.float32)
    term = lfilter(b, a, drive, axis=0)
    total = term.copy()
    p_t = np.asarray(transition, dtype=np.float32).T
    for _ in range(hops):
        spread = np.zeros_like(term)
        spread[lag:] = term[:-lag] @ p_t  # (P x_{t-lag})_i
        term = lfilter(b, a, np.float32(gain) * spread, axis=0)
        total += term
    return total
