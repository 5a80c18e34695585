"""node2vec node embeddings (Grover & Leskovec, "node2vec: Scalable Feature Learning for Networks",
KDD 2016): biased second-order random walks, embedded with a skip-gram model.

The walks are ours, vectorised over all walkers at once; the skip-gram is gensim's ``Word2Vec``
with one worker, so the embedding is a pure function of the graph, the settings and the seed.

Conventions (those of the reference implementation's default, undirected mode): an edge joins i and
j when ``adjacency[i, j] > 0`` or ``adjacency[j, i] > 0``, with weight ``max(A_ij, A_ji)``; self-loops
are ignored. A walk from an isolated node is that node alone, so its embedding is the skip-gram's
seeded initial vector.
"""
from __future__ import annotations

import numpy as np
from gensim.models import Word2Vec

from tsjt_basicts.errors import UserError

_CHUNK_CELLS = 1 << 22  # walkers x nodes handled at once: bounds the memory of one step


def check_adjacency(adjacency: np.ndarray) -> np.ndarray:
    """``adjacency`` as float64 after checking it is a finite, non-negative, non-empty [N, N] array."""
    adj = np.asarray(adjacency, dtype=np.float64)
    problem = None
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] == 0:
        problem = f"shape {adj.shape}, not a non-empty square [N, N]"
    elif not np.isfinite(adj).all():
        problem = f"{int((~np.isfinite(adj)).sum())} NaN/inf weights (use 0 for no edge)"
    elif (adj < 0).any():
        problem = f"negative weights (min {adj.min():.3g}); edge weights must be >= 0"
    if problem:
        raise UserError(f"node2vec: bad adjacency: {problem}; pass the node-by-node edge weight matrix")
    return adj


def _check_settings(**settings: float) -> None:
    for name, value in settings.items():
        if not value > 0 or (name not in ("p", "q") and int(value) != value):
            kind = "a positive number" if name in ("p", "q") else "an int >= 1"
            raise UserError(f"node2vec: {name} must be {kind}, got {value!r}")


def _undirected_weights(adjacency: np.ndarray) -> np.ndarray:
    weights = np.maximum(adjacency, adjacency.T)
    np.fill_diagonal(weights, 0.0)
    return weights


def _draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row, drawn in proportion to the row's non-negative weights."""
    cumulative = np.cumsum(probabilities, axis=1)
    thresholds = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.argmax(cumulative > thresholds[:, None], axis=1)


def _walk_chunk(weights: np.ndarray, starts: np.ndarray, length: int, p: float, q: float,
                rng: np.random.Generator) -> np.ndarray:
    """``[len(starts), length]`` walks of non-isolated start nodes (an undirected walk never gets stuck)."""
    walks = np.empty((len(starts), length), dtype=np.int64)
    walks[:, 0] = starts
    rows = np.arange(len(starts))
    for step in range(1, length):
        current = walks[:, step - 1]
        probabilities = weights[current].copy()  # [w n]: w(current, x)
        if step > 1:
            previous = walks[:, step - 2]
            bias = np.where(weights[previous] > 0, 1.0, 1.0 / q)  # x one hop from previous: 1, farther: 1/q
            bias[rows, previous] = 1.0 / p  # back to previous: 1/p
            probabilities *= bias
        walks[:, step] = _draw(probabilities, rng)
    return walks


def node2vec_walks(adjacency: np.ndarray, walks_per_node: int = 10, walk_length: int = 40, p: float = 1.0,
                   q: float = 1.0, seed: int = 0) -> list[list[int]]:
    """``walks_per_node`` rounds of one biased walk from every node (nodes shuffled per round).

    From ``t`` to ``v``, the next node ``x`` is drawn with weight ``w(v, x) / p`` if ``x == t``,
    ``w(v, x)`` if ``x`` neighbours ``t``, ``w(v, x) / q`` otherwise (the paper's search bias).
    """
    weights = _undirected_weights(check_adjacency(adjacency))
    _check_settings(walks_per_node=walks_per_node, walk_length=walk_length, p=p, q=q)
    rng = np.random.default_rng(seed)
    starts = np.concatenate([rng.permutation(len(weights)) for _ in range(int(walks_per_node))])
    isolated = weights.sum(axis=1) == 0
    walkers = starts[~isolated[starts]]
    chunk = max(1, _CHUNK_CELLS // len(weights))
    walked = [_walk_chunk(weights, walkers[i : i + chunk], int(walk_length), p, q, rng)
              for i in range(0, len(walkers), chunk)]
    by_walker = iter(np.concatenate(walked).tolist() if walked else [])
    return [[int(node)] if isolated[node] else next(by_walker) for node in starts]


def node2vec_embeddings(adjacency: np.ndarray, dim: int = 64, walks_per_node: int = 10, walk_length: int = 40,
                        p: float = 1.0, q: float = 1.0, window: int = 5, seed: int = 0,
                        epochs: int = 1) -> np.ndarray:
    """``[N, dim]`` float32 node2vec embeddings of the graph, row i for node i; deterministic per seed.

    ``p`` (return) and ``q`` (in-out) bias the walks; ``window`` and ``epochs`` are the skip-gram's.
    Raises :class:`~tsjt_basicts.errors.UserError` (a ``ValueError``) naming a bad input.
    """
    _check_settings(dim=dim, window=window, epochs=epochs)
    walks = node2vec_walks(adjacency, walks_per_node, walk_length, p, q, seed)
    sentences = [[str(node) for node in walk] for walk in walks]
    model = Word2Vec(sentences, vector_size=int(dim), window=int(window), min_count=0, sg=1, workers=1,
                     seed=seed, epochs=int(epochs))
    return np.stack([model.wv[str(node)] for node in range(len(walks) // int(walks_per_node))]).astype(np.float32)
