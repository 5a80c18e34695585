"""FOGS's learned graph and STFGNN's localised spatio-temporal graph, built once per city.

FOGS (Rao et al., IJCAI 2022) learns a graph from node2vec embeddings of the road graph and of a
temporal-similarity graph, then runs STFGNN (Li & Zhu, AAAI 2021) on a localised graph over
``k`` consecutive steps: ``k x k`` blocks of ``[N, N]``, the road graph on the inner diagonal
blocks, the learned graph on the outer two diagonal blocks and linking the first and the last
step, and each node linked to itself at every other pair of steps; a self-loop on every one of
the ``kN`` nodes. For ``k = 4`` (the authors' setting, their ``construct_adj_fusion``)::

    [L I I L]
    [I A I I]      A: road graph, L: learned graph, I: identity
    [I I A I]
    [L I I L]

Only :attr:`CityGraph.adjacency` and :attr:`CityGraph.history` (the training range) are read.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from tsjt_basicts.backbones.layers.graph import CityGraph, NodeHistory
from tsjt_basicts.graphs import node2vec_embeddings

# FOGS's node2vec run (node2vec-master/src/main_tra.py): walks per node, walk length, window
WALKS_PER_NODE, WALK_LENGTH, WINDOW = 10, 25, 10
BLOCK_KINDS: tuple[str, ...] = ("identity", "road", "learned")


def mean_daily_profile(history: NodeHistory) -> np.ndarray:
    """``[N, steps_per_day]`` mean over the whole days of each node's values at each slot (NaN: never observed)."""
    days = history.daily_profiles()  # [d s n]
    observed = ~np.isnan(days)
    counts = observed.sum(axis=0)
    sums = np.where(observed, days, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).T


def temporal_similarity(history: NodeHistory) -> np.ndarray:
    """``[N, N]`` Gaussian kernel ``exp(-(d / std)^2)`` of the L2 distances d between mean daily profiles.

    d runs over the slots both nodes observed, scaled to a whole day; nodes with no common slot
    get similarity 0, as does the diagonal.
    """
    profiles = mean_daily_profile(history)
    observed = (~np.isnan(profiles)).astype(np.float64)  # [n s]
    values = np.nan_to_num(profiles)
    squares = values**2
    common = observed @ observed.T
    squared = squares @ observed.T + observed @ squares.T - 2.0 * values @ values.T
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.sqrt(np.maximum(squared, 0.0) * profiles.shape[1] / common)
    distance[common == 0] = np.inf
    np.fill_diagonal(distance, np.inf)
    finite = distance[np.isfinite(distance)]
    scale = finite.std() if finite.size and finite.std() > 0 else 1.0
    return np.exp(-np.square(distance / scale))


def top_k_rows(similarity: np.ndarray, k: int) -> np.ndarray:
    """Boolean ``[N, N]``: each row's ``k`` most similar other nodes among those of positive similarity."""
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    chosen = np.zeros(similarity.shape, dtype=bool)
    np.put_along_axis(chosen, order, True, axis=1)
    return chosen & (similarity > 0)


def temporal_graph(history: NodeHistory, k: int) -> np.ndarray:
    """FOGS's temporal graph: the symmetrised ``k``-nearest-neighbour graph of the temporal similarity."""
    chosen = top_k_rows(temporal_similarity(history), k)
    return (chosen | chosen.T).astype(np.float64)


def learned_graph(embeddings: np.ndarray, k: int) -> np.ndarray:
    """FOGS's learned graph: each node's ``k`` nearest nodes by ``0.5 + 0.5 cos`` of their embeddings,
    weights normalised per row, then symmetrised by the larger weight (the authors' undirected run)."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = np.divide(embeddings, norms, out=np.zeros_like(embeddings, dtype=np.float64), where=norms > 0)
    similarity = 0.5 + 0.5 * unit @ unit.T
    np.fill_diagonal(similarity, 0.0)
    weights = np.where(top_k_rows(similarity, k), similarity, 0.0)
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    return np.maximum(weights, weights.T)


def block_kinds(steps: int) -> np.ndarray:
    """``[3, k, k]`` coefficients of the identity, the road graph and the learned graph (both with
    self-loops) in each block of the localised graph. The corner blocks linking the first and the
    last step hold the learned graph without self-loops: learned minus identity."""
    kinds = np.zeros((len(BLOCK_KINDS), steps, steps))
    outer = (0, steps - 1)
    for i in range(steps):
        for j in range(steps):
            if i in outer and j in outer:
                kinds[2, i, j] = 1.0
                kinds[0, i, j] = 0.0 if i == j else -1.0
            elif i == j:
                kinds[1, i, j] = 1.0
            else:
                kinds[0, i, j] = 1.0
    return kinds


def with_self_loops(adjacency: np.ndarray) -> np.ndarray:
    loops = adjacency.copy()
    np.fill_diagonal(loops, 1.0)
    return loops


def localized_graph(road: np.ndarray, learned: np.ndarray, steps: int) -> np.ndarray:
    """The dense ``[k N, k N]`` localised spatio-temporal graph (a self-loop on every node)."""
    matrices = (np.eye(len(road)), with_self_loops(road), with_self_loops(learned))
    kinds = block_kinds(steps)
    return np.block([[sum(kinds[m, i, j] * matrices[m] for m in range(3)) for j in range(steps)]
                     for i in range(steps)])


@dataclass
class FOGSGraph:
    """One city's FOGS graphs: road and learned ``[N, N]`` (self-loops added) and the node embeddings."""

    road: np.ndarray
    learned: np.ndarray
    embeddings: np.ndarray  # [n 2 dim]: node2vec of the road graph, then of the temporal graph
    _tensors: dict[tuple[str, str, str], tuple[torch.Tensor, ...]] = field(default_factory=dict, repr=False)

    def tensors(self, device: torch.device, dtype: torch.dtype, sparse: bool) -> tuple[torch.Tensor, ...]:
        """``(road, learned, embeddings)`` on ``device``; the two graphs as CSR when ``sparse``, cached."""
        key = (str(device), str(dtype), str(sparse))
        if key not in self._tensors:
            graphs = [torch.from_numpy(m).to(dtype) for m in (self.road, self.learned)]
            if sparse:
                with warnings.catch_warnings():  # "sparse CSR support is in beta": the ops used here are stable
                    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                    graphs = [g.to_sparse_csr() for g in graphs]
            embeddings = torch.from_numpy(self.embeddings).to(dtype)
            self._tensors[key] = tuple(t.to(device) for t in (*graphs, embeddings))
        return self._tensors[key]


def build_fogs_graph(graph: CityGraph, dim: int, neighbours: int, epochs: int) -> FOGSGraph:
    """Embed the road graph and the temporal graph (node2vec, seed 0), and learn the graph from both."""
    road = np.maximum(graph.adjacency, graph.adjacency.T)
    temporal = temporal_graph(graph.history, neighbours)
    settings = dict(dim=dim, walks_per_node=WALKS_PER_NODE, walk_length=WALK_LENGTH, window=WINDOW, epochs=epochs)
    embeddings = np.concatenate([node2vec_embeddings(road, **settings), node2vec_embeddings(temporal, **settings)], 1)
    learned = learned_graph(embeddings.astype(np.float64), neighbours)
    return FOGSGraph(with_self_loops(road), with_self_loops(learned), embeddings)


def fogs_graph(graph: CityGraph, dim: int, neighbours: int, epochs: int) -> FOGSGraph:
    """The city's :class:`FOGSGraph` for these settings, computed once per city graph."""
    name = f"fogs_graph(dim={dim}, neighbours={neighbours}, epochs={epochs})"
    return graph.derived(name, lambda g: build_fogs_graph(g, dim, neighbours, epochs))
