import numpy as np
import pytest
import torch
from backbone_helpers import random_adjacency

from tsjt_basicts.backbones import CityGraph, NodeHistory, graph_for

from tsjt_basicts.backbones.layers import diffusion_terms, propagate, scaled_laplacian, transition_operator


def test_transition_operators_gather_along_edges():
    adjacency = np.array([[0, 2, 2], [0, 0, 1], [0, 0, 0]], dtype=np.float32)  # 0 -> 1, 0 -> 2, 1 -> 2
    forward = transition_operator(adjacency)
    np.testing.assert_allclose(forward, [[0, 0, 0], [0.5, 0, 0], [0.5, 1, 0]])  # node 2 gathers from 0 and 1
    backward = transition_operator(adjacency, reverse=True)
    # reversed walk: node 1's only upstream is 0, node 2 splits between 0 and 1 by weight (2 : 1)
    np.testing.assert_allclose(backward, [[0, 1, 2 / 3], [0, 0, 1 / 3], [0, 0, 0]], rtol=1e-6)


def test_isolated_nodes_give_zero_rows_and_no_nan():
    adjacency = random_adjacency(8, seed=0, isolated=3)
    graph = CityGraph(adjacency, "isolated")
    for name in ("forward", "backward", "chebyshev"):
        op = graph.operator(name).to_dense()
        assert torch.isfinite(op).all(), name
    assert graph.operator("forward").to_dense()[-3:].abs().sum() == 0
    assert graph.operator("forward").to_dense()[:, -3:].abs().sum() == 0
    laplacian = scaled_laplacian(np.zeros((4, 4)))  # no edge at all
    assert np.isfinite(laplacian).all()


def test_scaled_laplacian_is_symmetric_with_spectrum_in_minus_one_one():
    laplacian = scaled_laplacian(random_adjacency(12, seed=3).astype(np.float64))
    np.testing.assert_allclose(laplacian, laplacian.T, atol=1e-12)
    eigenvalues = np.linalg.eigvalsh(laplacian)
    assert eigenvalues.min() >= -1 - 1e-9 and eigenvalues.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "adjacency, problem",
    [
        (np.ones((3, 4)), "square"),
        (np.ones(3), "square"),
        (np.array([[0, np.nan], [1, 0]]), "NaN/inf weights; replace them by 0"),
        (np.array([[0, -1.0], [1, 0]]), "negative weights"),
    ],
)
def test_bad_graphs_are_refused_with_the_fix(adjacency, problem):
    with pytest.raises(ValueError, match=problem):
        graph_for(adjacency, "bad")


def test_graphs_are_cached_per_key_and_a_changed_graph_is_refused():
    adjacency = random_adjacency(6, seed=0)
    graph = graph_for(adjacency, "city")
    assert graph_for(adjacency.copy(), "city") is graph
    assert graph.operator("forward") is graph.operator("forward")
    with pytest.raises(ValueError, match="already cached with a different adjacency"):
        graph_for(random_adjacency(6, seed=1), "city")
    assert graph_for(adjacency, "city", layout="dense").layout == "dense"
    with pytest.raises(ValueError, match="unknown layout"):
        CityGraph(adjacency, "city", layout="coo")


def test_propagate_matches_a_dense_product_for_shared_and_per_sample_operators():
    graph = CityGraph(random_adjacency(6, seed=0), "c")
    x = torch.randn(6, 2, 3, 4)  # [n b t c]
    dense = graph.operator("forward").to_dense()
    expected = torch.einsum("ij,jbtc->ibtc", dense, x)
    torch.testing.assert_close(propagate(graph.operator("forward"), x), expected)
    per_sample = torch.randn(2, 6, 6)
    expected = torch.einsum("bij,jbtc->ibtc", per_sample, x)
    torch.testing.assert_close(propagate(per_sample, x), expected)


def test_diffusion_series_restart_from_the_input_for_every_operator():
    s1, s2 = torch.randn(4, 4), torch.randn(4, 4)
    x = torch.randn(4, 3)
    power = diffusion_terms(x, [s1, s2], 2)
    torch.testing.assert_close(power[4], s2 @ s2 @ x)
    chebyshev = diffusion_terms(x, [s1, s2], 2, recurrence="chebyshev")
    torch.testing.assert_close(chebyshev[2], 2 * s1 @ s1 @ x - x)
    torch.testing.assert_close(chebyshev[4], 2 * s2 @ s2 @ x - x)
    assert len(diffusion_terms(x, [s1, s2], 0)) == 1  # K = 0: the input alone


def test_node_history_keeps_whole_days_from_the_first_midnight():
    values = np.arange(30, dtype=float).reshape(10, 3)  # 10 steps of 3 nodes, 4 steps a day
    history = NodeHistory(values, steps_per_day=4, first_slot=3)  # step 0 is the last slot of a day
    profiles = history.daily_profiles()
    assert profiles.shape == (2, 4, 3)
    np.testing.assert_array_equal(profiles[0, 0], values[1])
    with pytest.raises(ValueError, match="no whole day"):
        NodeHistory(values[:4], steps_per_day=4, first_slot=1).daily_profiles()


def test_a_graph_derives_once_and_asks_for_history_it_lacks():
    graph = CityGraph(random_adjacency(3, seed=1), "plain")
    with pytest.raises(ValueError, match="CityWindows.graph"):
        graph.history
    calls = []
    first = graph.derived("stag", lambda g: calls.append(1) or np.eye(g.num_nodes))
    assert graph.derived("stag", lambda g: calls.append(1)) is first and calls == [1]


def test_windows_graphs_hold_only_the_training_range():
    from tsjt_basicts.data.split import Protocol, split_target
    from tsjt_basicts.data.tasks import load_task
    from tsjt_basicts.data.windows import city_windows

    protocol = Protocol(val_days=0.5)
    target, _ = load_task("synthetic", protocol=protocol)
    split = split_target(target, protocol)
    test, train = (city_windows(target, split, part, protocol) for part in ("test", "train"))
    assert test.graph is train.graph  # one cached graph per city and training range
    assert len(test.graph.history.values) == len(split.train) < split.test.start
    assert graph_for(target.adjacency, target.name) is not test.graph  # the plain graph has no history
