import pytest
import torch
from backbone_helpers import SMALL, history_batch, learned_graph_for, random_adjacency, random_history

from tsjt_basicts.backbones import CityGraph, build_backbone, list_backbones

NAMES = list_backbones()  # every registered backbone meets the contract


@pytest.mark.parametrize("name", NAMES)
def test_one_instance_serves_two_cities_of_different_sizes(name, cities):
    torch.manual_seed(0)
    model = build_backbone(name, **SMALL[name])
    for graph in cities:
        n = graph.num_nodes
        out = model(history_batch(3, n), graph, learned_graph_for(name, 3, n))
        assert out.shape == (3, 6, n, 1)
        assert torch.isfinite(out).all()  # the larger city has isolated nodes


@pytest.mark.parametrize("name", NAMES)
def test_sizes_follow_the_config(name, cities):
    model = build_backbone(name, **SMALL[name], in_channels=5, output_len=3, out_channels=2)
    graph = cities[0]
    out = model(history_batch(2, 5, channels=5), graph, learned_graph_for(name, 2, 5))
    assert out.shape == (2, 3, 5, 2)


@pytest.mark.parametrize("name, extra", [("STGCN", {}), ("GWN", {}), ("GWN", {"num_nodes": 5}), ("DCRNN", {})])
def test_gradients_reach_every_parameter(name, extra, cities):
    torch.manual_seed(0)
    model = build_backbone(name, **SMALL[name], **extra)
    graph = cities[0]
    learned = None if extra else learned_graph_for(name, 2, 5)
    if learned is not None:
        learned.requires_grad_(True)
    model(history_batch(2, 5), graph, learned).square().mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{pname} gets no gradient"
    if learned is not None:  # TSJT trains its prompt graph through the backbone
        assert learned.grad is not None and learned.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_a_fixed_tiny_batch_is_overfit(name, cities):
    torch.manual_seed(0)
    model = build_backbone(name, **SMALL[name])
    graph = cities[0]
    history = history_batch(4, 5, seed=3)
    learned = learned_graph_for(name, 4, 5)
    targets = torch.randn(4, 6, 5, 1, generator=torch.Generator().manual_seed(4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = (model(history, graph, learned) - targets).square().mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < losses[0] / 10, f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"


@pytest.mark.parametrize("name", NAMES)
def test_sparse_and_dense_operators_give_the_same_forecast(name):
    adjacency = random_adjacency(7, seed=5, isolated=1)
    torch.manual_seed(0)
    model = build_backbone(name, **SMALL[name]).eval()
    history, learned = history_batch(2, 7), learned_graph_for(name, 2, 7)
    sparse = model(history, CityGraph(adjacency, "c", "sparse", random_history(7, seed=5)), learned)
    dense = model(history, CityGraph(adjacency, "c", "dense", random_history(7, seed=5)), learned)
    torch.testing.assert_close(sparse, dense, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_a_graph_of_another_city_is_refused(name, cities):
    model = build_backbone(name, **SMALL[name])
    small, _ = cities
    with pytest.raises(ValueError, match="graph 'small' has 5 nodes but the batch has 9; pass the CityGraph"):
        model(history_batch(2, 9), small, learned_graph_for(name, 2, 9))


@pytest.mark.parametrize("name", NAMES)
def test_history_of_the_wrong_shape_is_refused(name, cities):
    model = build_backbone(name, **SMALL[name])
    with pytest.raises(ValueError, match="in_channels=3"):
        model(history_batch(2, 5, channels=4), cities[0], learned_graph_for(name, 2, 5))
    with pytest.raises(ValueError, match=r"\[B, T_in, N, C_in\]"):
        model(torch.zeros(2, 12, 5), cities[0], learned_graph_for(name, 2, 5))
    with pytest.raises(TypeError, match="must be a CityGraph"):
        model(history_batch(2, 5), random_adjacency(5, 0), learned_graph_for(name, 2, 5))


@pytest.mark.parametrize("name", NAMES)
def test_backbones_built_without_a_learned_support_refuse_one(name, cities):
    model = build_backbone(name, **{**SMALL[name], "adaptive_graph": False})
    assert not model.accepts_learned_graph
    with pytest.raises(ValueError, match="does not take a learned graph"):
        model(history_batch(2, 5), cities[0], torch.zeros(2, 5, 5))


@pytest.mark.parametrize("name", NAMES)
def test_every_backbone_takes_a_learned_graph_per_sample(name, cities):
    torch.manual_seed(0)
    model = build_backbone(name, **SMALL[name]).eval()
    assert model.accepts_learned_graph
    graph, history = cities[0], history_batch(2, 5)
    learned = learned_graph_for(name, 2, 5)
    out = model(history, graph, learned)
    # sample 1 with another graph changes sample 1 only
    other = learned.clone()
    other[1] = learned_graph_for(name, 1, 5, seed=1)[0]
    changed = model(history, graph, other)
    torch.testing.assert_close(changed[0], out[0])
    assert not torch.allclose(changed[1], out[1])
    with pytest.raises(ValueError, match=r"learned_graph must be \[B, N, N\] = \[2, 5, 5\]"):
        model(history, graph, learned_graph_for(name, 2, 4))
    with pytest.raises(ValueError, match="NaN"):
        model(history, graph, torch.full((2, 5, 5), float("nan")))


def test_gwn_without_a_learned_graph_mixes_the_transition_terms_only(cities):
    """The 'w/o A_K' ablation on the same instance: as if the adaptive terms were zero."""
    torch.manual_seed(0)
    with_slot = build_backbone("GWN", **SMALL["GWN"]).eval()
    without_slot = build_backbone("GWN", **SMALL["GWN"], adaptive_graph=False).eval()
    state = with_slot.state_dict()
    for key, value in without_slot.state_dict().items():
        state_value = state[key]
        value.copy_(state_value[:, : value.shape[1]] if key.endswith("mix.weight") else state_value)
    graph, history = cities[0], history_batch(2, 5)
    torch.testing.assert_close(with_slot(history, graph), without_slot(history, graph))


def test_gwn_without_adaptive_graph_or_with_node_embeddings(cities):
    graph = cities[0]
    plain = build_backbone("GWN", **SMALL["GWN"], adaptive_graph=False)
    assert plain(history_batch(2, 5), graph).shape == (2, 6, 5, 1)
    with pytest.raises(ValueError, match="adaptive_graph=False"):
        plain(history_batch(2, 5), graph, torch.zeros(2, 5, 5))
    single = build_backbone("GWN", **SMALL["GWN"], num_nodes=5)
    assert single(history_batch(2, 5), graph).shape == (2, 6, 5, 1)
    with pytest.raises(ValueError, match="node embeddings are for 5 nodes but the batch has 9"):
        single(history_batch(2, 9), cities[1])
    with pytest.raises(ValueError, match="pass learned_graph=None"):
        single(history_batch(2, 5), graph, torch.zeros(2, 5, 5))


def test_only_gwn_single_city_embeddings_depend_on_the_node_count():
    gwn = build_backbone("GWN", **SMALL["GWN"], num_nodes=13)
    tied = [n for n, p in gwn.named_parameters() if 13 in p.shape]
    assert tied == ["source_embedding", "target_embedding"]
    assert not any(13 in p.shape for p in build_backbone("GWN", **SMALL["GWN"]).parameters())


def test_dcrnn_scheduled_sampling_is_opt_in_and_training_only(cities):
    graph, history = cities[0], history_batch(2, 5)
    targets = torch.randn(2, 6, 5)
    model = build_backbone("DCRNN", **SMALL["DCRNN"], use_curriculum_learning=True, cl_decay_steps=10)
    assert model.sampling_probability(0) == pytest.approx(10 / 11)
    assert model.sampling_probability(10**6) < 1e-6
    with pytest.raises(ValueError, match="needs targets and batches_seen"):
        model(history, graph)
    assert model(history, graph, targets=targets, batches_seen=0).shape == (2, 6, 5, 1)
    model.eval()
    torch.manual_seed(0)
    torch.testing.assert_close(model(history, graph), model(history, graph, targets=targets, batches_seen=0))


def test_dcrnn_without_diffusion_is_a_plain_seq2seq_gru(cities):
    model = build_backbone("DCRNN", **SMALL["DCRNN"], diffusion_steps=0)
    assert model(history_batch(2, 5), cities[0]).shape == (2, 6, 5, 1)


def test_dcrnn_creates_all_parameters_in_init(cities):
    model = build_backbone("DCRNN", **SMALL["DCRNN"])
    before = [(n, p.shape) for n, p in model.named_parameters()]
    model(history_batch(2, 5), cities[0])
    assert [(n, p.shape) for n, p in model.named_parameters()] == before
    # 2 layers x (gates + candidate) x (weight + bias), twice, + projection
    assert len(before) == 2 * 2 * 2 * 2 + 2


@pytest.mark.parametrize("name", NAMES)
def test_graph_operators_follow_the_model_dtype(name, cities):
    model = build_backbone(name, **SMALL[name]).double()
    learned = learned_graph_for(name, 2, 5)
    out = model(history_batch(2, 5).double(), cities[0], None if learned is None else learned.double())
    assert out.dtype == torch.float64


@pytest.mark.parametrize("name", ["STGCN", "DCRNN"])
def test_without_a_learned_graph_at_call_time_its_support_is_left_out(name, cities):
    """The 'w/o A_K' ablation on an instance with the learned-support weights: as if its terms were zero."""
    torch.manual_seed(0)
    with_slot = build_backbone(name, **SMALL[name]).eval()
    without_slot = build_backbone(name, **{**SMALL[name], "adaptive_graph": False}).eval()
    state = with_slot.state_dict()
    for key, value in without_slot.state_dict().items():
        value.copy_(state[key][: value.shape[0]])  # the learned support's weight rows come last
    graph, history = cities[0], history_batch(2, 5)
    torch.testing.assert_close(with_slot(history, graph), without_slot(history, graph))
    assert not torch.allclose(with_slot(history, graph, learned_graph_for(name, 2, 5)), without_slot(history, graph))
