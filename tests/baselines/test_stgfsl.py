"""ST-GFSL: node-specific generated parameters, gradients, graph reconstruction, synthetic smoke runs."""
import json
import math

import numpy as np
import pytest
import torch

from baselines.common import baseline_result_path
from baselines.stgfsl import STGFSL, NodeLinear, STGFSLConfig, reconstruction_loss, run
from tsjt_basicts.backbones import graph_for

TINY = {"hidden_dim": 8, "skip_dim": 16, "meta_dim": 8, "gwn_layers": 2}




def ring_adjacency(n: int) -> np.ndarray:
    """Self-loops plus a directed ring plus one chord per node: connected, not symmetric."""
    adjacency = np.eye(n)
    adjacency[np.arange(n), (np.arange(n) + 1) % n] = 0.8
    adjacency[np.arange(n), (np.arange(n) + 3) % n] = 0.3
    return adjacency


def model_of(name: str) -> STGFSL:
    torch.manual_seed(0)
    return STGFSL(STGFSLConfig(model=name, **TINY), input_len=12, output_len=6)


def test_node_linear_applies_each_nodes_own_weights():
    torch.manual_seed(0)
    layer = NodeLinear(meta_dim=4, in_features=3, out_features=2)
    knowledge, x = torch.randn(2, 5, 4), torch.randn(2, 5, 7, 3)  # [b n d], [b n t in]
    out = layer(knowledge, x)
    weight = layer.weight(knowledge[1, 2]).reshape(3, 2)
    assert out.shape == (2, 5, 7, 2)
    torch.testing.assert_close(out[1, 2], x[1, 2] @ weight + layer.bias(knowledge[1, 2]))


@pytest.mark.parametrize("name", ["GRU", "GWN"])
def test_generated_parameters_are_node_specific_and_one_model_serves_two_cities(name):
    model = model_of(name)
    for n in (5, 9):
        graph = graph_for(ring_adjacency(n), f"city{n}")
        inputs = torch.randn(2, 12, n, 3)
        forecast, knowledge = model(inputs, graph)
        assert forecast.shape == (2, 6, n) and knowledge.shape == (2, n, 8)
        assert torch.isfinite(forecast).all()
        first = model.forecaster.gates if name == "GRU" else model.forecaster.start
        weights = first.weight(knowledge)  # [b n in*out]: one weight set per node
        assert not torch.allclose(weights[:, 0], weights[:, 1])
    with pytest.raises(ValueError, match="nodes"):
        model(torch.randn(1, 12, 4, 3), graph)


@pytest.mark.parametrize("name", ["GRU", "GWN"])
def test_gradients_reach_the_meta_learner_and_the_generator(name):
    model = model_of(name)
    adjacency = ring_adjacency(6)
    forecast, knowledge = model(torch.randn(3, 12, 6, 3), graph_for(adjacency, "city"))
    (forecast.abs().mean() + 1.5 * reconstruction_loss(knowledge, adjacency)).backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name
    generator = model.forecaster.gates if name == "GRU" else model.forecaster.graph[0]
    assert generator.weight.weight.grad.abs().sum() > 0
    assert model.learner.temporal.weight_ih_l0.grad.abs().sum() > 0


def test_reconstruction_learns_the_citys_own_graph():
    torch.manual_seed(0)
    n = 10
    adjacency = ring_adjacency(n)
    shuffled = adjacency[np.random.default_rng(0).permutation(n)][:, np.random.default_rng(1).permutation(n)]
    graph = graph_for(adjacency, "city")
    model = model_of("GRU")
    inputs = torch.randn(4, 12, n, 3)
    optimizer = torch.optim.Adam(model.learner.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        reconstruction_loss(model(inputs, graph)[1], adjacency).backward()
        optimizer.step()
    knowledge = model(inputs, graph)[1]
    assert reconstruction_loss(knowledge, adjacency) < 0.8 * reconstruction_loss(knowledge, shuffled)
    with pytest.raises(RuntimeError):
        reconstruction_loss(knowledge, ring_adjacency(n + 1))


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="GRU"):
        STGFSLConfig(model="STGCN")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["GRU", "GWN"])
def test_synthetic_smoke_run_writes_finite_metrics(name, tmp_path):
    config = STGFSLConfig(
        model=name, **TINY, meta_iterations=2, task_batch=2, inner_steps=1, batch_size=64, finetune_steps=2
    )
    record = run("synthetic", seed=3, out_root=str(tmp_path), config=config)
    path = baseline_result_path("ST-GFSL", name, "synthetic", 3, str(tmp_path), config)
    written = json.loads(path.read_text())
    assert written == json.loads(json.dumps(record))
    assert written["data_kind"] == "synthetic" and written["method"] == "ST-GFSL"
    meta = (written["backbone"], written["task"], written["seed"], written["target_days"])
    assert meta == (name, "synthetic", 3, 3.0)
    assert all(math.isfinite(value) for value in written["metrics"]["avg"].values())
    if name == "GRU":  # deterministic per seed on CPU
        again = run("synthetic", seed=3, out_root=str(tmp_path / "again"), config=config)
        assert again["metrics"] == record["metrics"]
