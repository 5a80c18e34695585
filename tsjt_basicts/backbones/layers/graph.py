"""A city's road graph as the node-mixing operators the backbones use, built once per city and cached.

Convention: ``adjacency[i, j] > 0`` is an edge i -> j (the :class:`~tsjt_basicts.data.city.City`
convention). An *operator* ``S`` acts on node-first features: ``out = S @ x`` with ``x: [n, ...]``.

* ``"forward"``: ``(D_out^-1 A)^T``, node j gathers from its upstream neighbours, weighted by the
  forward random-walk probabilities (DCRNN's and Graph WaveNet's first transition support).
* ``"backward"``: ``(D_in^-1 A^T)^T``, the same on the reversed graph (the second support).
* ``"chebyshev"``: ``2 L / lambda_max - I`` with ``L = I - D^-1/2 W D^-1/2``, W the symmetrised
  adjacency ``max(A, A^T)`` without self-loops (STGCN's scaled Laplacian).

Isolated nodes (zero rows or columns) get zero transition rows and an identity Laplacian row:
the degree inverse is guarded, so they never produce NaN.

Backbones that learn graphs from data (DSTAGNN's STAG, FOGS's temporal graph) read the city's
:class:`NodeHistory`, its observed values over its training range only, and cache what they derive
from it on the graph (:meth:`CityGraph.derived`): once per city and training range.
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse.linalg
import torch

OperatorName = Literal["forward", "backward", "chebyshev"]
Layout = Literal["sparse", "dense"]
OPERATORS: tuple[str, ...] = ("forward", "backward", "chebyshev")
LAYOUTS: tuple[str, ...] = ("sparse", "dense")
_EIGSH_ABOVE = 1000  # nodes; a dense eigendecomposition is quicker below this size


def check_graph(adjacency: np.ndarray, key: str = "?") -> np.ndarray:
    """Return ``adjacency`` as float64 after checking that it is a finite, non-negative [N, N] array."""
    adj = np.asarray(adjacency, dtype=np.float64)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] == 0:
        raise ValueError(
            f"graph {key!r}: the adjacency must be a non-empty square [N, N] array, got shape {adj.shape}; "
            "pass the city's node-by-node weight matrix"
        )
    if not np.isfinite(adj).all():
        raise ValueError(
            f"graph {key!r}: the adjacency holds {int((~np.isfinite(adj)).sum())} NaN/inf weights; "
            "replace them by 0 (no edge)"
        )
    if (adj < 0).any():
        raise ValueError(
            f"graph {key!r}: the adjacency holds negative weights (min {adj.min():.3g}); edge weights must be "
            ">= 0 (turn distances into weights with a Gaussian kernel, or use absolute correlations)"
        )
    return adj


def _inverse(values: np.ndarray) -> np.ndarray:
    """1 / values, with 0 where values is 0 (isolated nodes)."""
    out = np.zeros_like(values)
    np.divide(1.0, values, out=out, where=values > 0)
    return out


def transition_operator(adjacency: np.ndarray, reverse: bool = False) -> np.ndarray:
    """``(D^-1 A)^T`` of the graph (``reverse``: of its transpose), rows of isolated nodes stay zero."""
    adj = adjacency.T if reverse else adjacency
    walk = _inverse(adj.sum(axis=1))[:, None] * adj  # [n n], rows sum to 1 (or 0)
    return walk.T


def scaled_laplacian(adjacency: np.ndarray) -> np.ndarray:
    """``2 L / lambda_max - I`` of the symmetrised, loop-free graph; isolated nodes keep ``L_ii = 1``."""
    weights = np.maximum(adjacency, adjacency.T)
    np.fill_diagonal(weights, 0.0)
    inv_sqrt = np.sqrt(_inverse(weights.sum(axis=1)))
    laplacian = np.eye(len(weights)) - inv_sqrt[:, None] * weights * inv_sqrt[None, :]
    if len(weights) > _EIGSH_ABOVE:
        lambda_max = float(scipy.sparse.linalg.eigsh(laplacian, k=1, which="LA", return_eigenvectors=False)[0])
    else:
        lambda_max = float(np.linalg.eigvalsh(laplacian)[-1])
    return 2.0 * laplacian / max(lambda_max, 1e-6) - np.eye(len(weights))


@dataclass(frozen=True)
class NodeHistory:
    """Values of a city's nodes over its training range (NaN where unobserved), for data-derived graphs."""

    values: np.ndarray  # [T, N]
    steps_per_day: int
    first_slot: int  # time-of-day slot of values[0]
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim != 2 or self.steps_per_day < 1:
            raise ValueError(f"NodeHistory: values must be [T, N] and steps_per_day >= 1, got {values.shape}")
        object.__setattr__(self, "values", values)
        digest = hashlib.blake2b(values.tobytes(), digest_size=8)
        digest.update(repr((values.shape, self.steps_per_day, self.first_slot)).encode())
        object.__setattr__(self, "digest", digest.hexdigest())

    def daily_profiles(self) -> np.ndarray:
        """``[days, steps_per_day, N]`` of the whole days in the range (from its first midnight), NaN unobserved."""
        skip = (-self.first_slot) % self.steps_per_day
        days = (len(self.values) - skip) // self.steps_per_day
        if days < 1:
            raise ValueError(f"NodeHistory: {len(self.values)} steps hold no whole day of {self.steps_per_day} steps")
        whole = self.values[skip : skip + days * self.steps_per_day]
        return whole.reshape(days, self.steps_per_day, -1)


_BUILDERS = {
    "forward": lambda adj: transition_operator(adj),
    "backward": lambda adj: transition_operator(adj, reverse=True),
    "chebyshev": scaled_laplacian,
}


class CityGraph:
    """One city's graph and its operators, computed on first use and cached per device.

    Args:
        adjacency: ``[N, N]`` non-negative weights, row i -> column j.
        key: a name for messages and the cache (the city name).
        layout: ``"sparse"`` (CSR operators) or ``"dense"``. Sparse is the default: measured with
            ``benchmarks/bench_backbones.py`` (batch 64, 2 CPU threads) it is 1.2-1.5x quicker on the
            627-node Shenzhen graph for all three backbones, and on par on the 207-node METR-LA graph
            except DCRNN (dense about 1.4x quicker there).
    """

    def __init__(self, adjacency: np.ndarray, key: str = "?", layout: Layout = "sparse",
                 history: NodeHistory | None = None):
        if layout not in LAYOUTS:
            raise ValueError(f"graph {key!r}: unknown layout {layout!r}; use one of {LAYOUTS}")
        self._adjacency = check_graph(adjacency, key)
        self.key = key
        self.layout = layout
        if history is not None and history.values.shape[1] != self.num_nodes:
            raise ValueError(f"graph {key!r}: its history has {history.values.shape[1]} nodes, the graph {self.num_nodes}")
        self._history = history
        self._operators: dict[tuple[str, str, str], torch.Tensor] = {}
        self._derived: dict[str, Any] = {}

    @property
    def adjacency(self) -> np.ndarray:
        """The ``[N, N]`` weights (read-only view)."""
        view = self._adjacency.view()
        view.flags.writeable = False
        return view

    @property
    def history(self) -> NodeHistory:
        """The city's training-range values; ``ValueError`` naming the fix when the graph was built without."""
        if self._history is None:
            raise ValueError(
                f"graph {self.key!r} carries no training history, which this backbone learns its graph from; "
                "pass the windows' graph (CityWindows.graph), built with the city's training range"
            )
        return self._history

    def derived(self, name: str, build: Callable[["CityGraph"], Any]) -> Any:
        """``build(self)`` computed once per graph and cached under ``name`` (a data-derived graph)."""
        if name not in self._derived:
            self._derived[name] = build(self)
        return self._derived[name]

    @property
    def num_nodes(self) -> int:
        return self._adjacency.shape[0]

    @property
    def num_edges(self) -> int:
        return int((self._adjacency > 0).sum())

    def same_adjacency(self, adjacency: np.ndarray) -> bool:
        adj = np.asarray(adjacency)
        return adj.shape == self._adjacency.shape and np.array_equal(adj, self._adjacency)

    def operator(
        self, name: OperatorName, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """The ``[N, N]`` operator ``name`` on ``device`` (CSR when ``layout == "sparse"``), cached."""
        key = (name, str(torch.device(device)), str(dtype))
        cached = self._operators.get(key)
        if cached is None:
            if name not in _BUILDERS:
                raise ValueError(f"unknown graph operator {name!r}; use one of {OPERATORS}")
            dense = torch.from_numpy(_BUILDERS[name](self._adjacency)).to(dtype)
            if self.layout == "sparse":
                with warnings.catch_warnings():  # "sparse CSR support is in beta": the ops used here are stable
                    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                    dense = dense.to_sparse_csr()
            cached = dense.to(device)
            self._operators[key] = cached
        return cached

    def check_nodes(self, num_nodes: int, what: str = "the batch") -> None:
        """Raise when this graph does not have ``num_nodes`` nodes."""
        if num_nodes != self.num_nodes:
            raise ValueError(
                f"graph {self.key!r} has {self.num_nodes} nodes but {what} has {num_nodes}; pass the CityGraph "
                "of the batch's own city (graph_for(city.adjacency, city.name)) with nodes in the same order"
            )

    def __repr__(self) -> str:
        return f"CityGraph({self.key!r}, {self.num_nodes} nodes, {self.num_edges} edges, {self.layout})"


_CACHE: dict[tuple[str, str, str | None], CityGraph] = {}


def graph_for(adjacency: np.ndarray, key: str, layout: Layout = "sparse", history: NodeHistory | None = None) -> CityGraph:
    """The cached :class:`CityGraph` of ``key`` (built on the first call), one per training ``history``.

    Raises ``ValueError`` when ``key`` was cached with a different adjacency: use one key per city.
    """
    cache_key = (key, layout, None if history is None else history.digest)
    cached = _CACHE.get(cache_key)
    if cached is not None:
        if not cached.same_adjacency(adjacency):
            raise ValueError(
                f"graph key {key!r} is already cached with a different adjacency; use a distinct key per city "
                "(e.g. the city name), or call clear_graph_cache() after changing a city's graph"
            )
        return cached
    graph = CityGraph(adjacency, key, layout, history)
    _CACHE[cache_key] = graph
    return graph


def clear_graph_cache() -> None:
    _CACHE.clear()
