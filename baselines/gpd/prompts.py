"""GPD's node prompts: what the diffusion model is told about the node whose model it generates.

The paper conditions on a spatial prompt (an urban knowledge-graph embedding of the region) and a
temporal prompt (an embedding of the node's series from a pretrained time-series encoder); the
authors' code loads both from files whose making it omits, and uses all-ones for the knowledge graph
of its traffic cities. Ours, from data any task has and from the training range only
(:attr:`CityGraph.history <tsjt_basicts.backbones.layers.graph.CityGraph.history>`):

* temporal: the node's mean daily profile in ``bins`` bins of the day, as its shape (z-scored by
  the node's own mean and spread), plus the node's level and spread in units of its city's;
* spatial: log degree and log k-hop neighbourhood size (undirected), weighted degree over the
  city's mean, local clustering coefficient.

Cities differ in units and size, so every feature is relative to its own city; the method then
standardises the features over the source nodes.
"""
from __future__ import annotations

import numpy as np

from baselines.gpd.ego import undirected_neighbours
from tsjt_basicts.backbones.layers.graph import CityGraph, NodeHistory

SPATIAL_FEATURES = 4


def prompt_size(bins: int) -> int:
    return bins + 2 + SPATIAL_FEATURES


def temporal_prompt(history: NodeHistory, bins: int) -> np.ndarray:
    """``[N, bins + 2]``: each node's daily-profile shape by time-of-day bin, then its level and spread.

    Reads the observed values only (NaN skipped); a bin or node never observed is 0 (its mean).
    """
    values = history.values  # [T, N]
    slots = (history.first_slot + np.arange(len(values))) % history.steps_per_day
    which = slots * bins // history.steps_per_day
    observed = np.isfinite(values)
    city_mean = np.nanmean(values) if observed.any() else 0.0
    city_spread = np.nanstd(values) if observed.any() else 0.0
    city_spread = city_spread if city_spread > 0 else 1.0
    counts = observed.sum(0)
    filled = np.where(observed, values, 0.0)
    level = np.divide(filled.sum(0), counts, out=np.full(values.shape[1], city_mean), where=counts > 0)
    deviation = np.where(observed, values - level, 0.0)
    spread = np.sqrt(np.divide((deviation**2).sum(0), counts, out=np.zeros(values.shape[1]), where=counts > 0))
    node_scale = np.where(spread > 0, spread, city_spread)
    shape = np.zeros((bins, values.shape[1]))
    for b in range(bins):
        rows = which == b
        in_bin = observed[rows].sum(0)
        total = deviation[rows].sum(0)
        shape[b] = np.divide(total, in_bin * node_scale, out=np.zeros(values.shape[1]), where=in_bin > 0)
    relative = np.stack([(level - city_mean) / city_spread, spread / city_spread])
    return np.concatenate([shape, relative]).T


def spatial_prompt(adjacency: np.ndarray, hops: int) -> np.ndarray:
    """``[N, 4]``: log(1 + degree), log(1 + nodes within ``hops``), weighted degree / city mean, clustering."""
    neighbours = undirected_neighbours(adjacency)
    linked = np.zeros(adjacency.shape, dtype=bool)
    for node, around in enumerate(neighbours):
        linked[node, around] = True
    degree = linked.sum(1)
    reach, frontier = linked.copy(), linked.copy()
    for _ in range(hops - 1):
        frontier = (frontier.astype(np.int64) @ linked.astype(np.int64)) > 0
        reach |= frontier
    np.fill_diagonal(reach, False)
    weight = np.maximum(adjacency, adjacency.T) * ~np.eye(len(adjacency), dtype=bool)
    strength = weight.sum(1)
    mean_strength = strength.mean() if strength.mean() > 0 else 1.0
    as_int = linked.astype(np.int64)
    triangles = np.einsum("ij,jk,ki->i", as_int, as_int, as_int) / 2
    pairs = degree * (degree - 1) / 2
    clustering = np.divide(triangles, pairs, out=np.zeros(len(degree)), where=pairs > 0)
    return np.stack([np.log1p(degree), np.log1p(reach.sum(1)), strength / mean_strength, clustering], axis=1)


def node_prompts(graph: CityGraph, bins: int, hops: int) -> np.ndarray:
    """``[N, prompt_size(bins)]`` prompts of a city's nodes, cached on its graph (training history only)."""
    return graph.derived(f"gpd_prompts_{bins}_{hops}", lambda g: np.concatenate(
        [temporal_prompt(g.history, bins), spatial_prompt(np.asarray(g.adjacency), hops)], axis=1))
