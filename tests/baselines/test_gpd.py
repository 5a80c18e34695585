"""GPD baseline: ego graphs, flat parameter vectors, the diffusion sampler, prompts, refusals, a smoke run."""
import json
import math

import networkx as nx
import numpy as np
import pytest
import torch

from baselines.gpd.diffusion import Denoiser, ParameterDiffusion, train_diffusion
from baselines.gpd.ego import ego_graphs, ego_nodes
from baselines.gpd.method import GPDConfig, run
from baselines.gpd.node_model import NodeModels, NodeModelSpec, node_forecast, node_model_layout
from baselines.gpd.prompts import spatial_prompt, temporal_prompt
from baselines.gpd.training import PROMPT_CLIP, standardise
from baselines.registry import baseline
from tsjt_basicts.backbones.layers.graph import NodeHistory
from tsjt_basicts.errors import ConfigError

SMOKE = baseline("GPD").settings("GWN", "smoke")
SPEC = NodeModelSpec(in_channels=3, channels=3, blocks=1, layers_per_block=2, end_channels=4, output_len=6)


def random_graph(nodes: int, edges: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    adjacency = np.zeros((nodes, nodes))
    rows, cols = rng.integers(nodes, size=edges), rng.integers(nodes, size=edges)
    adjacency[rows, cols] = rng.uniform(0.1, 1.0, size=edges)  # directed, with some self-loops
    return adjacency


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_an_ego_graph_holds_exactly_the_k_hop_neighbours_in_either_direction(hops):
    adjacency = random_graph(30, 45, seed=hops)
    undirected = nx.from_numpy_array(((adjacency > 0) | (adjacency.T > 0)).astype(int))
    for node in range(30):
        got = ego_nodes(adjacency, node, hops)
        assert got[0] == node and len(set(got.tolist())) == len(got)
        assert set(got.tolist()) == set(nx.ego_graph(undirected, node, radius=hops))
        distance = nx.single_source_shortest_path_length(undirected, node)
        assert [distance[v] for v in got] == sorted(distance[v] for v in got)  # nearer hops first


def test_a_chain_keeps_its_nearest_nodes_and_padding_is_masked():
    chain = np.diag(np.ones(5), 1)  # 0 -> 1 -> ... -> 5
    assert ego_nodes(chain, 2, 1).tolist() == [2, 1, 3]
    assert ego_nodes(chain, 0, 2).tolist() == [0, 1, 2]
    ego = ego_graphs(chain, np.array([0, 3]), hops=2, size=4)
    assert ego.index.tolist() == [[0, 1, 2, 0], [3, 2, 4, 1]]
    assert ego.valid.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert ego.supports[0, :, 3].abs().sum() == 0 and ego.supports[0, :, :, 3].abs().sum() == 0
    inputs = torch.randn(2, 12, 6, 3)
    gathered = ego.gather(inputs)  # [M C B K T]
    torch.testing.assert_close(gathered[1, :, :, 2], inputs[:, :, 4].permute(2, 0, 1))
    assert gathered[0, :, :, 3].abs().sum() == 0


def test_flatten_and_unflatten_of_a_small_models_parameters_round_trip_exactly():
    layout = node_model_layout(SPEC)
    flat = layout.initial(5, torch.Generator().manual_seed(0))
    assert flat.shape == (5, layout.size) and 100 < layout.size < 1000
    tensors = layout.unflatten(flat)
    assert [tuple(t.shape[1:]) for t in tensors.values()] == [shape for _, shape in layout.entries]
    assert torch.equal(layout.flatten(tensors), flat)
    again = layout.unflatten(layout.flatten(tensors))
    assert all(torch.equal(again[name], tensors[name]) for name in tensors)
    with pytest.raises(ValueError, match="has .* entries"):
        layout.unflatten(flat[:, :-1])


def test_batched_models_forecast_each_node_as_its_own_model_alone_would():
    adjacency = random_graph(7, 14, seed=3)
    ego = ego_graphs(adjacency, np.arange(7), hops=1, size=4)
    flat = node_model_layout(SPEC).initial(7, torch.Generator().manual_seed(1))
    inputs = torch.randn(5, 12, 7, 3)
    together = NodeModels(SPEC, flat, ego)(inputs)  # [B H M]
    assert together.shape == (5, 6, 7)
    layout = node_model_layout(SPEC)
    for node in (0, 4):
        x = ego.gather(inputs)[node : node + 1]
        alone = node_forecast(SPEC, layout.unflatten(flat[node : node + 1]), x, ego.supports[node : node + 1])
        torch.testing.assert_close(together[:, :, node], alone[0].T)
    models = NodeModels(SPEC, flat, ego)
    models(inputs)[:, :, 2].sum().backward()  # a node's forecast depends on its own row only
    assert models.flat.grad[2].abs().sum() > 0 and models.flat.grad[[0, 1, 3, 4, 5, 6]].abs().sum() == 0


def test_a_diffusion_sampler_trained_on_one_vector_recovers_it():
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    target = torch.rand(1, 40, generator=generator) * 2 - 1
    condition = torch.randn(1, 5, generator=generator)
    diffusion = ParameterDiffusion(Denoiser(40, 5, token_size=8, dim=32, layers=1, heads=2), steps=20)
    before = diffusion.sample(condition.repeat(4, 1), generator)
    losses = train_diffusion(diffusion, target.repeat(32, 1), condition.repeat(32, 1), 600, 32, 3e-3, generator)
    assert np.mean(losses[-50:]) < 0.1 * np.mean(losses[:50])
    samples = diffusion.sample(condition.repeat(4, 1), generator)
    assert (samples - target).abs().max() < 0.1 < (before - target).abs().max()


def test_temporal_prompts_read_the_daily_shape_level_and_spread_of_observed_values():
    day = np.array([0.0, 0.0, 4.0, 4.0])  # 4 steps a day, two bins
    values = np.stack([np.tile(day, 3), np.tile(day, 3) * 2 + 10, np.full(12, np.nan)], axis=1)
    values[5, 0] = np.nan
    prompt = temporal_prompt(NodeHistory(values, steps_per_day=4, first_slot=0), bins=2)
    assert prompt.shape == (3, 4)
    np.testing.assert_allclose(prompt[0, :2], [-1.0, 1.0], atol=0.12)  # low half, high half (one value missing)
    np.testing.assert_allclose(prompt[1, :2], [-1.0, 1.0])
    assert prompt[1, 2] > prompt[0, 2] and prompt[1, 3] == pytest.approx(2 * prompt[0, 3], rel=0.05)
    assert np.all(prompt[2] == [0.0, 0.0, prompt[2, 2], 0.0]) and np.all(np.isfinite(prompt))


def test_spatial_prompts_count_degree_reach_and_triangles():
    triangle_and_tail = np.zeros((4, 4))
    for a, b in [(0, 1), (1, 2), (2, 0), (2, 3)]:
        triangle_and_tail[a, b] = 1.0
    prompt = spatial_prompt(triangle_and_tail, hops=2)
    np.testing.assert_allclose(prompt[:, 0], np.log1p([2, 2, 3, 1]))
    np.testing.assert_allclose(prompt[:, 1], np.log1p([3, 3, 3, 3]))
    np.testing.assert_allclose(prompt[:, 3], [1.0, 1.0, 1 / 3, 0.0])


def test_target_prompts_are_standardised_by_the_source_prompts_and_clipped():
    source = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    target = np.array([[2.0, 1.0], [2.0 + 100 * np.std([0, 2, 4]), 2.5]])
    got = standardise(target, source)
    torch.testing.assert_close(got, torch.tensor([[0.0, 0.0], [PROMPT_CLIP, 1.5]]))


@pytest.mark.parametrize("bad, message", [
    (dict(ego_size=0), "ego_size must be an integer >= 1"),
    (dict(hops=1.5), "hops must be an integer"),
    (dict(diffusion_lr=0.0), "diffusion_lr must be a finite number > 0"),
    (dict(denoiser_dim=10, denoiser_heads=4), "divisible by denoiser_heads"),
    (dict(val_days=3.0), "val_days"),
])
def test_bad_settings_end_in_one_config_error_line(bad, message):
    with pytest.raises(ConfigError, match=message) as raised:
        GPDConfig(**bad)
    assert "\n" not in str(raised.value)


def test_smoke_run_on_the_synthetic_task_writes_finite_metrics(tmp_path):
    returned = run("synthetic", seed=0, out_root=str(tmp_path), config=SMOKE)
    [path] = list(tmp_path.rglob("test_metrics.json"))
    record = json.loads(path.read_text())
    assert record["metrics"] == returned["metrics"] and record["method"] == "GPD" and record["backbone"] == "GWN"
    assert record["compute"]["generator_steps"] == SMOKE.diffusion_train_steps
    for name in ("MAE", "RMSE"):
        assert math.isfinite(record["metrics"]["avg"][name]) and record["metrics"]["avg"][name] > 0
    assert record["selection"]["selected_step"] in (3, 6)
    assert "GPD_GWN" in str(path)
