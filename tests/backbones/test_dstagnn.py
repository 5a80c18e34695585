import dataclasses

import numpy as np
import pytest
import torch
from backbone_helpers import SMALL, history_batch, learned_graph_for, random_adjacency, random_history

from tsjt_basicts.backbones import CityGraph, NodeHistory, build_backbone, graph_for
from tsjt_basicts.backbones.dstagnn import stag
from tsjt_basicts.errors import ConfigError


def daily_profiles(days: int = 3, steps: int = 24, nodes: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    slots = np.arange(steps)[None, :, None]
    return 50 + 20 * np.sin(2 * np.pi * slots / steps + rng.random(nodes)) + rng.normal(0, 3, (days, steps, nodes))


def test_identical_daily_profiles_are_at_distance_zero_and_different_ones_are_not():
    profiles = daily_profiles()
    profiles[..., 1] = profiles[..., 0]
    distances = stag.stag_distances(profiles)
    assert distances[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert distances[0, 2] > 1e-4 and distances[2, 3] > 1e-4
    np.testing.assert_allclose(distances, distances.T)
    np.testing.assert_array_equal(np.diag(distances), 0.0)


def test_a_days_weight_and_shape_both_matter():
    profiles = daily_profiles(days=2, nodes=2)
    profiles[..., 1] = profiles[..., 0]
    profiles[1, :, 1] *= 3  # same shapes, but node 1's second day weighs more
    assert stag.stag_distances(profiles)[0, 1] > 1e-4


def test_top_one_percent_keeps_at_least_one_other_node():
    distances = stag.stag_distances(daily_profiles(nodes=6))
    neighbours = stag.nearest_neighbours(distances, 0.01)
    np.testing.assert_array_equal(neighbours.sum(axis=1), 1)
    np.testing.assert_array_equal(np.diag(neighbours), 0)
    np.testing.assert_array_equal(neighbours.argmax(axis=1), (distances + np.diag([np.inf] * 6)).argmin(axis=1))
    many = stag.nearest_neighbours(np.random.default_rng(0).random((250, 250)), 0.01)
    np.testing.assert_array_equal(many.sum(axis=1), 2)
    assert stag.nearest_neighbours(np.zeros((1, 1)), 0.01).sum() == 0  # one node: no other to keep


def test_unobserved_values_take_the_nodes_slot_mean_then_its_mean():
    profiles = daily_profiles(days=3, nodes=3)
    profiles[1, 5, 0] = np.nan
    profiles[:, 7, 1] = np.nan  # slot never observed
    profiles[..., 2] = np.nan  # node never observed
    filled = stag.fill_unobserved(profiles)
    assert filled[1, 5, 0] == pytest.approx((profiles[0, 5, 0] + profiles[2, 5, 0]) / 2)
    assert filled[0, 7, 1] == pytest.approx(np.nanmean(profiles[..., 1]))
    np.testing.assert_array_equal(filled[..., 2], 0.0)
    distances = stag.stag_distances(filled)
    assert np.isfinite(distances).all() and distances[0, 2] == pytest.approx(1.0)


def test_the_stag_is_computed_once_per_graph(monkeypatch, cities):
    calls = []
    original = stag.stag_distances
    monkeypatch.setattr(stag, "stag_distances", lambda profiles: calls.append(1) or original(profiles))
    graph = CityGraph(random_adjacency(5, seed=1), "once", history=random_history(5, seed=3))
    for extra in ({}, {"neighbour_fraction": 0.5}, {"chebyshev_graph": "road"}):
        model = build_backbone("DSTAGNN", **SMALL["DSTAGNN"], **extra)
        for _ in range(2):
            model(history_batch(2, 5), graph)
    assert calls == [1]


def test_the_stag_reads_the_training_history_only():
    from tsjt_basicts.data.split import Protocol, split_target
    from tsjt_basicts.data.tasks import load_task
    from tsjt_basicts.data.windows import city_windows

    protocol = Protocol()
    target, _ = load_task("synthetic", protocol=protocol)
    split = split_target(target, protocol)
    test_graph = city_windows(target, split, "test", protocol).graph
    distances = stag.city_stag_distances(test_graph)
    series = target.series.copy()
    series[split.train.stop :] = np.random.default_rng(0).uniform(0, 100, series[split.train.stop :].shape)
    changed = dataclasses.replace(target, name=target.name + "-changed-after-training", series=series)
    changed_graph = city_windows(changed, split, "test", protocol).graph
    np.testing.assert_array_equal(stag.city_stag_distances(changed_graph), distances)
    assert len(test_graph.history.values) == len(split.train)


def test_a_graph_without_training_days_is_refused_in_one_line():
    model = build_backbone("DSTAGNN", **SMALL["DSTAGNN"])
    with pytest.raises(ValueError, match="carries no training history.*CityWindows.graph"):
        model(history_batch(2, 5), graph_for(random_adjacency(5, seed=1), "no-history"))
    short = NodeHistory(np.ones((10, 5)), steps_per_day=24, first_slot=3)
    with pytest.raises(ValueError, match="DSTAGNN learns its STAG from whole training days of graph 'short'.*24 steps"):
        model(history_batch(2, 5), CityGraph(random_adjacency(5, seed=1), "short", history=short))


def test_gradients_reach_every_parameter_and_the_learned_graph(cities):
    torch.manual_seed(0)
    model = build_backbone("DSTAGNN", **SMALL["DSTAGNN"])
    learned = learned_graph_for("DSTAGNN", 2, 5).requires_grad_(True)
    model(history_batch(2, 5), cities[0], learned).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} gets no gradient"
    assert learned.grad is not None and learned.grad.abs().sum() > 0


def test_without_a_learned_graph_at_call_time_its_support_is_left_out(cities):
    torch.manual_seed(0)
    with_slot = build_backbone("DSTAGNN", **SMALL["DSTAGNN"]).eval()
    without_slot = build_backbone("DSTAGNN", **{**SMALL["DSTAGNN"], "adaptive_graph": False}).eval()
    state = with_slot.state_dict()
    for key, value in without_slot.state_dict().items():
        value.copy_(state[key][: value.shape[0]])  # the learned support's weight rows come last
    graph, history = cities[0], history_batch(2, 5)
    torch.testing.assert_close(with_slot(history, graph), without_slot(history, graph))


def test_the_road_graph_can_replace_the_stag_in_the_chebyshev_terms(cities):
    torch.manual_seed(0)
    on_stag = build_backbone("DSTAGNN", **SMALL["DSTAGNN"]).eval()
    on_road = build_backbone("DSTAGNN", **SMALL["DSTAGNN"], chebyshev_graph="road").eval()
    on_road.load_state_dict(on_stag.state_dict())
    graph, history = cities[1], history_batch(2, 9)
    assert not torch.allclose(on_stag(history, graph), on_road(history, graph))


def test_the_default_sizes_match_a_count_by_hand():
    model = build_backbone("DSTAGNN")
    # first block 151,161 (summary 18,944, spatial attention 98,304, GTUs 31,212); three more 343,087 each
    # (summary 197,120); output layer 196,736 + 774
    assert sum(p.numel() for p in model.parameters()) == 151_161 + 3 * 343_087 + 196_736 + 774
    assert len(model.blocks) == 4 and model.blocks[0].graph_conv.weight.shape == (3 * 3, 32)


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"temporal_kernels": (3, 13)}, "temporal kernel 13 is longer than input_len=12"),
        ({"temporal_kernels": (0, 3)}, "temporal_kernels must be positive ints"),
        ({"temporal_kernels": 3}, "temporal_kernels must be positive ints"),
        ({"neighbour_fraction": 0.0}, r"neighbour_fraction must be in \(0, 1\]"),
        ({"chebyshev_graph": "distance"}, "chebyshev_graph must be one of"),
        ({"cheb_order": 0}, "cheb_order must be >= 1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(fields, problem):
    with pytest.raises(ConfigError, match=problem):
        build_backbone("DSTAGNN", **fields)
