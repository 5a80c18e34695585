"""Graphs for cities that come without one.

A thresholded Gaussian kernel of distances (Li et al., "Diffusion Convolutional Recurrent Neural
Network", ICLR 2018: ``w_ij = exp(-d_ij^2 / sigma^2)``, sigma the std of the distances, weights
below a threshold set to 0) when sensor coordinates or road distances are known; otherwise a
graph of series correlations computed on a training range only, so that no test value leaks in.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from tsjt_basicts.data.city import City, DataError, GraphSource
from tsjt_basicts.data.split import Protocol, StepRange, split_target

EARTH_RADIUS_KM = 6371.0088


def haversine_km(coords_latlon: np.ndarray) -> np.ndarray:
    """``[N, N]`` great-circle distances in km between ``[N, 2]`` (lat, lon) points in degrees."""
    lat, lon = np.radians(np.asarray(coords_latlon, dtype=np.float64)).T
    half_dlat = (lat[:, None] - lat[None, :]) / 2
    half_dlon = (lon[:, None] - lon[None, :]) / 2
    a = np.sin(half_dlat) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(half_dlon) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_kernel(distances: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """DCRNN's thresholded Gaussian kernel of a distance matrix (``inf`` = no road between).

    With ``threshold=0`` every finite distance stays an edge (its weight is kept above 0 even
    where the kernel underflows), for graphs whose links are given and only weighted here.
    """
    distances = np.asarray(distances, dtype=np.float64)
    finite = np.isfinite(distances)
    if not finite.any():
        raise DataError("no finite distance to build a Gaussian-kernel graph from")
    sigma = distances[finite].std() or 1.0
    scaled = np.where(finite, distances, 0.0) / sigma
    weights = np.where(finite, np.exp(-np.square(scaled)), 0.0)
    if threshold > 0:
        weights[weights < threshold] = 0.0
    else:
        weights = np.where(finite, np.maximum(weights, np.finfo(np.float32).tiny), 0.0)
    return weights.astype(np.float32)


def gaussian_kernel_graph(coords_latlon: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """DCRNN's thresholded Gaussian kernel of the haversine distances between sensors.

    A sensor with unknown (NaN) coordinates keeps only its self-loop.
    """
    coords = np.asarray(coords_latlon, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise DataError(f"coordinates must be an [N, 2] (lat, lon) array, got shape {coords.shape}")
    if np.nanmax(np.abs(coords[:, 0]), initial=0) > 90 or np.nanmax(np.abs(coords[:, 1]), initial=0) > 180:
        raise DataError("coordinates are not (lat, lon) in degrees (|lat| <= 90, |lon| <= 180); projected metres?")
    distances = np.nan_to_num(haversine_km(coords), nan=np.inf)
    np.fill_diagonal(distances, 0.0)
    return distance_kernel(distances, threshold)


def correlation_graph(
    values: np.ndarray, steps: StepRange, top_k: int | None = 10, threshold: float | None = None
) -> np.ndarray:
    """Graph of positive Pearson correlations between node series, on ``steps`` only.

    Args:
        values: ``[T, N]`` series, NaN = missing (missing values count as the node's mean).
        steps: the range to use: a training range, never one holding test data.
        top_k: keep, per row, the ``top_k`` most correlated other nodes (directed graph) ...
        threshold: ... or, when given instead (``top_k=None``), every correlation >= threshold.

    Self-loops have weight 1, as in the Gaussian-kernel graphs.
    """
    if (top_k is None) == (threshold is None):
        raise DataError("give exactly one of top_k or threshold for a correlation graph")
    window = np.asarray(values, dtype=np.float64)[steps.start : steps.stop]
    if len(window) < 2:
        raise DataError(f"range {steps} holds fewer than 2 steps: too short for correlations")
    observed = ~np.isnan(window)
    means = np.where(observed, window, 0.0).sum(axis=0) / np.maximum(observed.sum(axis=0), 1)
    centred = np.where(observed, window - means, 0.0)
    norms = np.linalg.norm(centred, axis=0)
    corr = (centred.T @ centred) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(corr, -np.inf)
    if top_k is not None:
        keep = np.zeros_like(corr, dtype=bool)
        k = min(top_k, corr.shape[0] - 1)
        np.put_along_axis(keep, np.argsort(-corr, axis=1)[:, :k], True, axis=1)
    else:
        keep = corr >= threshold
    graph = np.where(keep & (corr > 0), corr, 0.0)
    np.fill_diagonal(graph, 1.0)
    return graph.astype(np.float32)


def with_correlation_graph(city: City, steps: StepRange, top_k: int = 10) -> City:
    """``city`` with a correlation graph of its observed values on ``steps`` only."""
    observed = np.where(city.valid_mask(), city.series[..., 0], np.nan)
    return replace(city, adjacency=correlation_graph(observed, steps, top_k=top_k), graph_source="correlation")


def ensure_graph(
    name: str,
    series: np.ndarray,
    adjacency: np.ndarray | None,
    locations: np.ndarray | None = None,
    protocol: Protocol = Protocol(),
    graph_source: GraphSource = "given",
    **city_fields,
) -> City:
    """A City with a graph: ``adjacency`` (made as ``graph_source`` says), else a Gaussian kernel
    of its coordinates, else correlations of its series.

    The correlation graph uses the city's few-shot training range under ``protocol``
    (:func:`split_target`), the one range that is training data whether the city ends up a
    target or a source (a source may then rebuild it on its whole series). A city too short to
    split as a target keeps self-loops only: it can only be a source, whose graph
    :func:`tsjt_basicts.data.tasks.as_source` builds on its whole series; a task that makes it the
    target is refused by the split.
    """
    if adjacency is not None:
        return City(name, series, adjacency, locations=locations, graph_source=graph_source, **city_fields)
    if locations is not None:
        graph = gaussian_kernel_graph(locations)
        return City(name, series, graph, locations=locations, graph_source="gaussian-kernel", **city_fields)
    num_nodes = np.shape(series)[1]
    draft = City(name, series, np.eye(num_nodes), graph_source="correlation", **city_fields)  # for its calendar
    try:
        train = split_target(draft, protocol).train
    except DataError:
        return draft
    return with_correlation_graph(draft, train)
