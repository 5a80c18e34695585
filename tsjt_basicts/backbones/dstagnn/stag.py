"""DSTAGNN's spatial-temporal aware graph (STAG), learned from a city's training history.

Each node's history is cut into daily profiles (``NodeHistory.daily_profiles``). Node i is a
distribution over its days, each day weighted by the norm of its profile; moving day d of node i
onto day e of node j costs the cosine distance of the two profiles. The STAG distance of two nodes
is the Wasserstein distance of these distributions (Lan et al., ICML 2022, Sec. 3; the authors'
``STAG_gen.py``); each node keeps the 1% of other nodes most similar to it (similarity = 1 - distance,
at least one node) as its neighbours.

Unobserved values (NaN) are filled with the node's mean of that time-of-day slot over its observed
days, then with the node's mean, then with 0 (a node never observed: its distance to every node is 1).

Solver: POT's exact ``ot.emd2``, one small days x days problem per pair. Measured on this 2-core
CPU (one thread) with 288-step days: 0.12 ms a pair at 3 days, 0.33 ms at 30, 2.1 ms at 84, i.e.
N=207: 2.5 s (3 days) to 45 s (84 days); N=600: 21 s to 6.4 min, once per city and training
range (cached). POT's batched log-Sinkhorn (``ot.batch.solve_batch``, all pairs in one call) took
4-13 ms a pair at every size, and its entropic bias keeps identical profiles from distance 0.
"""
from __future__ import annotations

import warnings

import numpy as np
import ot

from tsjt_basicts.backbones.layers.graph import CityGraph

STAG_CACHE = "dstagnn_stag"  # CityGraph.derived name of the STAG distances


def training_profiles(graph: CityGraph) -> np.ndarray:
    """``[days, steps_per_day, N]`` whole days of the graph's training history; one ValueError without."""
    history = graph.history  # a graph without one: ValueError naming the fix
    try:
        return history.daily_profiles()
    except ValueError as error:
        raise ValueError(
            f"DSTAGNN learns its STAG from whole training days of graph {graph.key!r}: {error}; "
            "train on at least one whole day"
        ) from None


def fill_unobserved(profiles: np.ndarray) -> np.ndarray:
    """NaN -> the node's slot mean over its observed days, else the node's mean, else 0."""
    filled = profiles.copy()
    with warnings.catch_warnings():  # all-NaN slots and nodes are filled by the next rule
        warnings.simplefilter("ignore", RuntimeWarning)
        slot_means = np.nanmean(profiles, axis=0)  # [s n]
        node_means = np.nanmean(profiles, axis=(0, 1))  # [n]
    slot_means = np.where(np.isnan(slot_means), node_means[None, :], slot_means)
    slot_means = np.nan_to_num(slot_means, nan=0.0)
    missing = np.isnan(filled)
    filled[missing] = np.broadcast_to(slot_means[None], filled.shape)[missing]
    return filled


def day_distributions(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node, its days' masses ``[N, days]`` (profile norms, summing to 1) and unit profiles ``[N, days, steps]``."""
    days = np.ascontiguousarray(profiles.transpose(2, 0, 1))  # [n d s]
    norms = np.linalg.norm(days, axis=2)  # [n d]
    units = days / np.where(norms > 0, norms, 1.0)[..., None]
    totals = norms.sum(axis=1, keepdims=True)
    masses = np.where(totals > 0, norms / np.where(totals > 0, totals, 1.0), 1.0 / norms.shape[1])
    return np.ascontiguousarray(masses), units


def stag_distances(profiles: np.ndarray) -> np.ndarray:
    """``[N, N]`` symmetric STAG distances (0 on the diagonal) of complete daily profiles ``[days, steps, N]``."""
    masses, units = day_distributions(profiles)
    n = len(masses)
    distances = np.zeros((n, n))
    for i in range(n - 1):
        costs = 1.0 - np.matmul(units[i], units[i + 1 :].transpose(0, 2, 1))  # [n - i - 1, d, d]
        costs = np.ascontiguousarray(np.clip(costs, 0.0, None))
        for offset, cost in enumerate(costs):
            distances[i, i + 1 + offset] = ot.emd2(masses[i], masses[i + 1 + offset], cost)
    return distances + distances.T


def city_stag_distances(graph: CityGraph) -> np.ndarray:
    """The city's STAG distances, computed from its training history once per graph (cached on it)."""
    return graph.derived(STAG_CACHE, lambda g: stag_distances(fill_unobserved(training_profiles(g))))


def nearest_neighbours(distances: np.ndarray, fraction: float) -> np.ndarray:
    """Binary ``[N, N]``: row i marks node i's ``max(1, int(N * fraction))`` nearest other nodes."""
    n = len(distances)
    keep = min(max(1, int(n * fraction)), n - 1)
    ranked = distances + np.diag(np.full(n, np.inf))  # a node is not its own neighbour
    nearest = np.argsort(ranked, axis=1, kind="stable")[:, :keep]
    neighbours = np.zeros((n, n))
    np.put_along_axis(neighbours, nearest, 1.0, axis=1)
    return neighbours
