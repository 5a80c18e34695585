import numpy as np
import pytest
import torch

from tsjt_basicts.backbones import graph_for
from tsjt_basicts.npm import NodePromptedConfig, NPMConfig, PatternEncoder, PromptBank, prompt_graph, wrap_with_npm

SMALL_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16)


def random_graph(n: int, key: str) -> object:
    rng = np.random.default_rng(n)
    return graph_for(rng.random((n, n)) * (rng.random((n, n)) > 0.7), key)


def test_one_npm_model_serves_cities_of_different_sizes():
    model = wrap_with_npm("GWN", NPMConfig(num_prompts=5, prompt_dim=8), **SMALL_GWN)
    for n in (7, 13):
        out = model(torch.randn(3, 12, n, 3), random_graph(n, f"npm-size-{n}"))
        assert out.shape == (3, 6, n) and torch.isfinite(out).all()


def test_prompt_graph_is_symmetric_with_unit_diagonal():
    prompt = torch.randn(2, 9, 12, 4)
    graph = prompt_graph(prompt)
    assert graph.shape == (2, 9, 9)
    torch.testing.assert_close(graph, graph.transpose(1, 2))
    torch.testing.assert_close(torch.diagonal(graph, dim1=1, dim2=2), torch.ones(2, 9))


def test_node_prompt_is_a_convex_mix_of_the_bank():
    config = NPMConfig(num_prompts=4, prompt_dim=8)
    bank = PromptBank(config, input_len=12)
    pattern = PatternEncoder(config, in_channels=3, input_len=12)(torch.randn(2, 12, 6, 3), random_graph(6, "npm-mix"))
    assert pattern.shape == (2, 6, 12, 8)
    prompt = bank(pattern)
    flat_bank = bank.prompts.flatten(1)  # [K, T*D]
    weights = torch.linalg.lstsq(flat_bank.T, prompt.flatten(2).reshape(-1, flat_bank.shape[1]).T).solution
    torch.testing.assert_close(weights.sum(0), torch.ones(weights.shape[1]), atol=1e-4, rtol=0)
    assert (weights > -1e-4).all()


def test_the_prompt_graph_reaches_graph_wavenet_and_the_ablations_switch_it_off():
    npm = NPMConfig(num_prompts=3, prompt_dim=4)
    assert wrap_with_npm("GWN", npm, **SMALL_GWN).uses_prompt_graph
    assert not wrap_with_npm("GWN", npm, prompt_graph=False, **SMALL_GWN).uses_prompt_graph
    assert not wrap_with_npm("STGCN", npm).uses_prompt_graph  # STGCN takes no learned graph
    plain = wrap_with_npm("GWN", None, **SMALL_GWN)
    assert plain.encoder is None and plain(torch.randn(2, 12, 5, 3), random_graph(5, "npm-plain")).shape == (2, 6, 5)


def test_prompt_and_encoder_get_gradients():
    model = wrap_with_npm("GWN", NPMConfig(num_prompts=3, prompt_dim=4), **SMALL_GWN)
    model(torch.randn(2, 12, 5, 3), random_graph(5, "npm-grad")).square().mean().backward()
    assert model.bank.prompts.grad.abs().sum() > 0
    assert model.encoder.input_projection.weight.grad.abs().sum() > 0


def test_bad_npm_settings_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        NPMConfig(num_prompts=3, prompt_dim=5, num_heads=2)
    with pytest.raises(ValueError, match="attention"):
        NPMConfig(num_prompts=3, attention="dot")
    with pytest.raises(ValueError, match="not inside backbone_config"):
        NodePromptedConfig("GWN", backbone_config={"in_channels": 4})


def test_misfit_batches_and_graphs_are_named_before_any_layer_runs():
    model = wrap_with_npm("GWN", NPMConfig(num_prompts=3, prompt_dim=4), **SMALL_GWN)
    with pytest.raises(ValueError, match=r"inputs must be \[B, 12, N, 3\]"):
        model(torch.randn(2, 10, 5, 3), random_graph(5, "npm-bad"))
    with pytest.raises(ValueError, match="has 5 nodes but the batch has 6"):
        model(torch.randn(2, 12, 6, 3), random_graph(5, "npm-bad"))


def test_npm_runs_in_double_precision():
    model = wrap_with_npm("GWN", NPMConfig(num_prompts=3, prompt_dim=4), **SMALL_GWN).double()
    assert model(torch.randn(2, 12, 5, 3, dtype=torch.float64), random_graph(5, "npm-double")).dtype == torch.float64
