import numpy as np
import pytest
import torch
from backbone_helpers import SMALL, history_batch, learned_graph_for, random_adjacency, random_history

from tsjt_basicts.backbones import CityGraph, NodeHistory, build_backbone
from tsjt_basicts.backbones.fogs import graph as fogs_graph_module
from tsjt_basicts.backbones.fogs.graph import fogs_graph, learned_graph, localized_graph, temporal_graph
from tsjt_basicts.backbones.fogs.model import LocalizedMix, last_observed
from tsjt_basicts.errors import ConfigError

SETTINGS = dict(dim=4, neighbours=3, epochs=1)


def test_the_localized_graph_has_the_road_graph_inside_and_the_learned_graph_at_its_ends():
    n, k = 5, 4
    road, learned = random_adjacency(n, seed=0), random_adjacency(n, seed=1) * 0.5
    np.fill_diagonal(learned, 0.0)  # as learned_graph gives it
    big = localized_graph(road, learned, k)
    assert big.shape == (k * n, k * n)
    block = lambda i, j: big[i * n : (i + 1) * n, j * n : (j + 1) * n]
    road_loops, learned_loops = road.copy(), learned.copy()
    np.fill_diagonal(road_loops, 1.0)
    np.fill_diagonal(learned_loops, 1.0)
    for i in (1, 2):
        np.testing.assert_array_equal(block(i, i), road_loops)
    for i, j in [(0, 0), (3, 3), (0, 3), (3, 0)]:
        np.testing.assert_array_equal(block(i, j), learned_loops if i == j else learned)
    for i, j in [(0, 1), (1, 0), (0, 2), (1, 2), (1, 3), (2, 3), (3, 1)]:
        np.testing.assert_array_equal(block(i, j), np.eye(n))
    assert (np.diag(big) == 1).all()


@pytest.mark.parametrize("layout", ["sparse", "dense"])
def test_the_blockwise_product_equals_the_dense_localized_graph(layout):
    n, k = 6, 4
    graph = CityGraph(random_adjacency(n, seed=2), "c", layout, random_history(n, seed=2))
    city = fogs_graph(graph, **SETTINGS)
    road, learned, _ = city.tensors(torch.device("cpu"), torch.float64, layout == "sparse")
    x = torch.randn(n, 2, 3, k, 5, dtype=torch.float64)  # [n b w k c]
    mixed = LocalizedMix(k, learned_support=False).double()(x, road, learned, None)
    big = torch.from_numpy(localized_graph(city.road, city.learned, k))
    stacked = x.permute(3, 0, 1, 2, 4).reshape(k * n, -1)  # rows: step-major, as the block matrix
    expected = (big @ stacked).reshape(k, n, 2, 3, 5).permute(1, 2, 3, 0, 4)
    torch.testing.assert_close(mixed, expected)


def test_the_graph_is_built_once_per_city_graph(monkeypatch):
    calls = []
    real = fogs_graph_module.node2vec_embeddings
    monkeypatch.setattr(fogs_graph_module, "node2vec_embeddings", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    graph = CityGraph(random_adjacency(5, seed=3), "c", history=random_history(5, seed=3))
    model = build_backbone("FOGS", **SMALL["FOGS"])
    model(history_batch(2, 5), graph)
    model(history_batch(2, 5, seed=1), graph)
    build_backbone("FOGS", **SMALL["FOGS"])(history_batch(2, 5), graph)  # another instance, same city
    assert len(calls) == 2  # road and temporal embeddings, once
    assert fogs_graph(graph, **SETTINGS) is fogs_graph(graph, **SETTINGS)


def test_the_graph_comes_from_the_adjacency_and_the_training_history_only():
    adjacency = random_adjacency(6, seed=4)
    history = random_history(6, seed=4)
    first = fogs_graph(CityGraph(adjacency, "a", history=history), **SETTINGS)
    same = fogs_graph(CityGraph(adjacency.copy(), "b", history=NodeHistory(history.values.copy(), 24, 0)), **SETTINGS)
    np.testing.assert_array_equal(first.learned, same.learned)
    np.testing.assert_array_equal(first.embeddings, same.embeddings)
    other = fogs_graph(CityGraph(adjacency, "c", history=random_history(6, seed=5)), **SETTINGS)
    assert not np.array_equal(first.embeddings[:, 4:], other.embeddings[:, 4:])  # the temporal half
    np.testing.assert_array_equal(first.embeddings[:, :4], other.embeddings[:, :4])  # the road half


def test_the_temporal_graph_links_nodes_with_similar_daily_profiles():
    steps = np.arange(3 * 24)[:, None]
    phases = np.array([0, 0, 0, np.pi, np.pi, np.pi, 0])
    values = 50 + 20 * np.sin(2 * np.pi * steps / 24 + phases) + np.random.default_rng(0).normal(0, 1, (72, 7))
    values[:, 6] = np.nan  # never observed: no temporal neighbour
    graph = temporal_graph(NodeHistory(values, 24, first_slot=0), k=2)
    expected = np.kron(np.eye(2), np.ones((3, 3))) - np.eye(6)
    np.testing.assert_array_equal(graph[:6, :6], expected)
    assert graph[6].sum() == 0 and graph[:, 6].sum() == 0


def test_the_learned_graph_keeps_the_k_most_similar_nodes_and_is_symmetric():
    embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    graph = learned_graph(embeddings, k=1)
    np.testing.assert_array_equal(graph > 0, np.kron(np.eye(2), np.ones((2, 2))) - np.eye(4) > 0)
    np.testing.assert_array_equal(graph, graph.T)


def test_the_trend_head_returns_the_last_observed_input_when_its_increments_are_zero(cities):
    model = build_backbone("FOGS", **SMALL["FOGS"], out_channels=2)
    for head in model.heads:
        torch.nn.init.zeros_(head[-1].weight)
        torch.nn.init.zeros_(head[-1].bias)
    history = history_batch(2, 5)
    history[0, -2:, 3, 0] = 0.0  # node 3 of sample 0 unobserved for its last two steps
    history[1, :, 4, 0] = 0.0  # node 4 of sample 1 never observed
    out = model(history, cities[0])
    anchor = history[:, -1, :, 0].clone()
    anchor[0, 3] = history[0, -3, 3, 0]
    anchor[1, 4] = 0.0
    torch.testing.assert_close(out, anchor[:, None, :, None].expand(2, 6, 5, 2))
    torch.testing.assert_close(last_observed(history[..., 0]), anchor)
    plain = build_backbone("FOGS", **SMALL["FOGS"], predict_trend=False)
    for head in plain.heads:
        torch.nn.init.zeros_(head[-1].weight)
        torch.nn.init.zeros_(head[-1].bias)
    assert plain(history, cities[0]).abs().max() == 0


def test_a_graph_without_history_is_refused_in_one_line():
    model = build_backbone("FOGS", **SMALL["FOGS"])
    with pytest.raises(ValueError, match="carries no training history.*pass the windows' graph"):
        model(history_batch(2, 5), CityGraph(random_adjacency(5, seed=0), "bare"))


def test_gradients_reach_every_parameter(cities):
    torch.manual_seed(0)
    model = build_backbone("FOGS", **SMALL["FOGS"])
    learned = learned_graph_for("FOGS", 2, 9).requires_grad_(True)
    model(history_batch(2, 9), cities[1], learned).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} gets no gradient"
    assert learned.grad.abs().sum() > 0


def test_no_parameter_depends_on_the_node_count():
    shapes = lambda m: [p.shape for p in m.parameters()]
    model = build_backbone("FOGS")  # the authors' widths
    assert shapes(model) == shapes(build_backbone("FOGS"))
    assert sum(p.numel() for p in model.parameters()) > 100_000


@pytest.mark.parametrize("fields, problem", [
    ({"strides": 2}, "strides must be >= 3"),
    ({"num_layers": 4}, "4 layers with strides=4 need input_len > 12, got 12"),
    ({"graph_neighbours": 0}, "graph_neighbours must be >= 1"),
])
def test_bad_settings_are_refused(fields, problem):
    with pytest.raises(ConfigError, match=problem):
        build_backbone("FOGS", **fields)


def test_sparse_and_dense_layouts_give_the_same_forecast():
    adjacency, history = random_adjacency(7, seed=5, isolated=1), random_history(7, seed=5)
    torch.manual_seed(0)
    model = build_backbone("FOGS", **SMALL["FOGS"]).eval()
    batch, learned = history_batch(2, 7), learned_graph_for("FOGS", 2, 7)
    sparse = model(batch, CityGraph(adjacency, "c", "sparse", history), learned)
    dense = model(batch, CityGraph(adjacency, "c", "dense", history), learned)
    torch.testing.assert_close(sparse, dense, rtol=1e-4, atol=1e-5)
