import numpy as np
import pytest

from tsjt_basicts.graphs import node2vec_embeddings, node2vec_walks


def two_cliques(size: int = 6) -> np.ndarray:
    """Two disconnected cliques of ``size`` nodes with weighted edges."""
    block = np.ones((size, size)) - np.eye(size)
    adj = np.zeros((2 * size, 2 * size))
    adj[:size, :size] = block
    adj[size:, size:] = 2.0 * block
    return adj


def cosine(e: np.ndarray) -> np.ndarray:
    unit = e / np.linalg.norm(e, axis=1, keepdims=True)
    return unit @ unit.T


def test_embeddings_are_deterministic_per_seed():
    adj = two_cliques()
    first = node2vec_embeddings(adj, dim=8, walk_length=10, seed=3)
    assert first.shape == (12, 8) and first.dtype == np.float32
    np.testing.assert_array_equal(first, node2vec_embeddings(adj, dim=8, walk_length=10, seed=3))
    assert not np.allclose(first, node2vec_embeddings(adj, dim=8, walk_length=10, seed=4))


def test_nodes_of_one_clique_embed_closer_than_across_cliques():
    similarity = cosine(node2vec_embeddings(two_cliques(), dim=16, walk_length=20, epochs=20))
    same = np.kron(np.eye(2), np.ones((6, 6))).astype(bool) & ~np.eye(12, dtype=bool)
    across = ~np.kron(np.eye(2), np.ones((6, 6))).astype(bool)
    assert similarity[same].mean() > similarity[across].mean() + 0.3


def test_walks_follow_edges_and_isolated_nodes_walk_alone():
    adj = np.zeros((5, 5))
    adj[0, 1] = adj[1, 2] = 1.0  # directed edges count both ways; nodes 3, 4 are isolated
    adj[3, 3] = 1.0  # a self-loop is no edge
    walks = node2vec_walks(adj, walks_per_node=3, walk_length=6, seed=0)
    assert len(walks) == 15
    for walk in walks:
        if walk[0] in (3, 4):
            assert walk == [walk[0]]
        else:
            assert len(walk) == 6
            assert all(abs(a - b) == 1 and {a, b} <= {0, 1, 2} for a, b in zip(walk, walk[1:]))
    assert sorted(w[0] for w in walks) == sorted(list(range(5)) * 3)
    assert node2vec_embeddings(adj, dim=4, walk_length=6).shape == (5, 4)


def test_a_low_return_parameter_makes_walks_backtrack():
    ring = np.roll(np.eye(10), 1, axis=1)  # a directed cycle, walked both ways
    def backtracks(p: float) -> float:
        walks = np.array(node2vec_walks(ring, walks_per_node=5, walk_length=12, p=p, q=1.0, seed=0))
        return float((walks[:, 2:] == walks[:, :-2]).mean())
    assert backtracks(0.05) > 0.8 > 0.2 > backtracks(20.0)


@pytest.mark.parametrize("adjacency, problem", [
    (np.ones((3, 4)), r"shape \(3, 4\), not a non-empty square"),
    (np.zeros((0, 0)), r"shape \(0, 0\), not a non-empty square"),
    (np.array([[0, np.nan], [1, 0]]), "1 NaN/inf weights"),
    (np.array([[0, -1.0], [1, 0]]), "negative weights"),
])
def test_bad_adjacencies_are_refused_in_one_line(adjacency, problem):
    with pytest.raises(ValueError, match=f"node2vec: bad adjacency: {problem}"):
        node2vec_embeddings(adjacency)


@pytest.mark.parametrize("setting", [{"dim": 0}, {"walk_length": 2.5}, {"p": 0.0}, {"q": -1.0}, {"epochs": 0}])
def test_bad_settings_are_refused(setting):
    with pytest.raises(ValueError, match=f"node2vec: {next(iter(setting))} must be"):
        node2vec_embeddings(np.eye(3), **setting)
