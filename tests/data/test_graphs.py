import numpy as np
import pytest

from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.graphs import (
    correlation_graph,
    distance_kernel,
    ensure_graph,
    gaussian_kernel_graph,
    haversine_km,
)
from tsjt_basicts.data.split import Protocol, StepRange, split_target


def test_haversine_matches_one_degree_of_the_equator():
    distances = haversine_km(np.array([[0.0, 0.0], [0.0, 1.0]]))
    assert distances[0, 1] == pytest.approx(111.195, abs=0.01) and distances[0, 0] == 0


def test_gaussian_kernel_follows_dcrnn():
    coords = np.array([[34.00, -118.00], [34.01, -118.00], [34.02, -118.01], [34.50, -118.50]])
    graph = gaussian_kernel_graph(coords, threshold=0.1)
    distances = haversine_km(coords)
    expected = np.exp(-((distances / distances.std()) ** 2))
    expected[expected < 0.1] = 0
    np.testing.assert_allclose(graph, expected, rtol=1e-6)
    assert np.all(np.diag(graph) == 1) and np.allclose(graph, graph.T)
    assert graph[0, 3] == 0 and graph[0, 1] > graph[0, 2] > 0


def test_gaussian_kernel_refuses_projected_coordinates_and_isolates_unknown_ones():
    with pytest.raises(DataError, match="projected metres"):
        gaussian_kernel_graph(np.array([[589196.0, 6151987.0], [589084.0, 6152001.0]]))
    graph = gaussian_kernel_graph(np.array([[34.0, -118.0], [34.01, -118.0], [np.nan, np.nan]]))
    assert graph[2].sum() == graph[:, 2].sum() == 1


def test_distance_kernel_without_threshold_keeps_every_finite_link():
    distances = np.array([[0.0, 1.0, np.inf], [np.inf, 0.0, 100.0], [np.inf, np.inf, 0.0]])
    graph = distance_kernel(distances, threshold=0.0)
    assert ((graph > 0) == np.isfinite(distances)).all()


def series(steps: int = 400, nodes: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = np.sin(np.arange(steps) / 10)[:, None]
    return common * rng.uniform(-1, 1, nodes) + 0.3 * rng.normal(size=(steps, nodes))


def test_correlation_graph_reads_only_the_given_range():
    values, steps = series(), StepRange(0, 200)
    graph = correlation_graph(values, steps, top_k=2)
    changed = values.copy()
    changed[200:] = np.random.default_rng(1).normal(size=changed[200:].shape)
    changed[250, 3] = np.nan
    np.testing.assert_array_equal(correlation_graph(changed, steps, top_k=2), graph)
    changed[:200, 0] = np.random.default_rng(2).normal(size=200)
    assert not np.array_equal(correlation_graph(changed, steps, top_k=2), graph)


def test_correlation_graph_top_k_or_threshold():
    values = series()
    graph = correlation_graph(values, StepRange(0, 400), top_k=2)
    assert ((graph > 0).sum(axis=1) <= 3).all() and np.all(np.diag(graph) == 1) and (graph >= 0).all()
    dense = correlation_graph(values, StepRange(0, 400), top_k=None, threshold=0.5)
    corr = np.corrcoef(values.T)
    np.testing.assert_allclose(
        dense[(corr >= 0.5) & ~np.eye(6, dtype=bool)], corr[(corr >= 0.5) & ~np.eye(6, dtype=bool)], rtol=1e-5
    )
    with pytest.raises(DataError, match="exactly one of top_k or threshold"):
        correlation_graph(values, StepRange(0, 400), top_k=2, threshold=0.5)


def test_ensure_graph_prefers_given_then_coordinates_then_training_correlations():
    values = series(steps=24 * 20)
    fields = {"interval_minutes": 60, "steps_per_day": 24}
    assert ensure_graph("a", values, np.eye(6), **fields).graph_source == "given"
    coords = np.column_stack([np.linspace(34, 34.1, 6), np.full(6, -118.0)])
    assert ensure_graph("b", values, None, coords, **fields).graph_source == "gaussian-kernel"
    protocol = Protocol(target_days=3)
    city = ensure_graph("c", values, None, protocol=protocol, **fields)
    train = split_target(city, protocol).train
    assert city.graph_source == "correlation" and train.stop == 72
    np.testing.assert_array_equal(city.adjacency, correlation_graph(values, train))
    later_changed = values.copy()
    later_changed[train.stop :] = 0
    np.testing.assert_array_equal(
        ensure_graph("c", later_changed, None, protocol=protocol, **fields).adjacency, city.adjacency
    )


def test_ensure_graph_leaves_a_city_too_short_for_a_target_split_with_self_loops_only():
    values = np.random.default_rng(0).normal(size=(30, 3))
    city = ensure_graph("daily", values, None, interval_minutes=1440, steps_per_day=1)
    assert city.graph_source == "correlation" and (city.adjacency == np.eye(3)).all()
    with pytest.raises(DataError, match="target 'daily'"):
        split_target(city, Protocol())
