import math

import numpy as np
import pytest
import torch

from tsjt_basicts.backbones import graph_for
from tsjt_basicts.npm import (
    DiagnosticsAccumulator,
    NodePromptedConfig,
    NPMConfig,
    PatternEncoder,
    PromptBank,
    PromptGraphSupport,
    PromptInternals,
    prompt_graph,
    wrap_with_npm,
)

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
    prompt = bank(bank.attention(pattern))
    flat_bank = bank.prompts.flatten(1)  # [K, T*D]
    weights = torch.linalg.lstsq(flat_bank.T, prompt.flatten(2).reshape(-1, flat_bank.shape[1]).T).solution
    torch.testing.assert_close(weights.sum(0), torch.ones(weights.shape[1]), atol=1e-4, rtol=0)
    assert (weights > -1e-4).all()


@pytest.mark.parametrize("backbone", ["GWN", "STGCN", "DCRNN"])
def test_the_prompt_graph_reaches_every_backbone_and_the_ablation_switches_it_off(backbone):
    npm = NPMConfig(num_prompts=3, prompt_dim=4)
    widths = SMALL_GWN if backbone == "GWN" else {}
    model = wrap_with_npm(backbone, npm, **widths)
    assert model.uses_prompt_graph and model.backbone.accepts_learned_graph
    # gradient reaches the support's temperature, which only the graph path uses
    model(torch.randn(2, 12, 5, 3), random_graph(5, f"npm-ak-{backbone}")).square().mean().backward()
    assert model.support.log_temperature.grad.abs() > 0
    ablated = wrap_with_npm(backbone, npm, prompt_graph=False, **widths)
    assert not ablated.uses_prompt_graph and ablated.support is None
    with pytest.raises(ValueError, match="cannot take the prompt graph"):
        wrap_with_npm(backbone, npm, adaptive_graph=False, **widths)


def test_a_model_without_npm_is_the_plain_backbone():
    plain = wrap_with_npm("GWN", None, **SMALL_GWN)
    assert plain.encoder is None and plain(torch.randn(2, 12, 5, 3), random_graph(5, "npm-plain")).shape == (2, 6, 5)
    with pytest.raises(ValueError, match="no NPM"):
        plain.prompt_internals(torch.randn(2, 12, 5, 3), random_graph(5, "npm-plain"))


def two_pattern_batch(nodes: int = 6) -> torch.Tensor:
    """Half the nodes carry a fast oscillation, half a slow ramp: patterns that plainly differ."""
    steps = torch.arange(12.0)
    x = torch.zeros(4, 12, nodes, 3)
    x[:, :, : nodes // 2, 0] = torch.sin(steps * 1.5)[None, :, None] * 2
    x[:, :, nodes // 2 :, 0] = (steps / 6 - 1)[None, :, None]
    return x + 0.05 * torch.randn_like(x)


@torch.no_grad()
def prompt_gap(config: NPMConfig, seeds: int = 5) -> tuple[float, float]:
    """Mean over model seeds of the attention's total-variation distance between the two groups,
    and of 1 - cos of their prompts."""
    attention_gaps, prompt_gaps = [], []
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = wrap_with_npm("GWN", config, **SMALL_GWN).eval()
        internals = model.prompt_internals(two_pattern_batch(), random_graph(6, "npm-two"))
        first, second = internals.attention[:, 0], internals.attention[:, -1]
        attention_gaps.append(float(0.5 * (first - second).abs().sum(-1).mean()))
        prompt_gaps.append(float(1 - internals.prompt_graph[:, 0, -1].mean()))
    return float(np.mean(attention_gaps)), float(np.mean(prompt_gaps))


def test_nodes_with_different_patterns_get_different_prompts_by_default():
    attention_gap, prompt_distance = prompt_gap(NPMConfig(num_prompts=8))
    assert attention_gap > 0.2 and prompt_distance > 0.05
    # the landed settings (1/sqrt(T D') on a 0.1-std bank) gave every node nearly the same prompt
    inert_gap, inert_distance = prompt_gap(NPMConfig(num_prompts=8, score_scale="sqrt_td", prompt_init_std=0.1))
    assert inert_gap < 0.05 and inert_distance < 0.01


@pytest.mark.parametrize("kind", ["temperature", "relu_rownorm", "topk", "softmax_relu"])
def test_every_support_is_row_stochastic_and_non_negative(kind):
    support = PromptGraphSupport(NPMConfig(num_prompts=3, support=kind, support_top_k=3))
    graph = prompt_graph(torch.randn(2, 7, 12, 4))
    weights = support(graph)
    assert weights.shape == (2, 7, 7) and (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 7))
    if kind == "topk":
        assert ((weights > 0).sum(-1) <= 3).all()


def test_the_support_of_distinct_prompts_is_far_from_uniform_but_softmax_relu_is_not():
    """Two groups of identical prompts, orthogonal between the groups: the paper's A_K at its clearest."""
    prompts = torch.zeros(1, 8, 1, 2)
    prompts[0, :4, 0, 0], prompts[0, 4:, 0, 1] = 1.0, 1.0
    graph = prompt_graph(prompts)
    for kind, expected in [("temperature", 2.0), ("relu_rownorm", 2.0), ("softmax_relu", 8 * math.e / (4 * math.e + 4))]:
        support = PromptGraphSupport(NPMConfig(num_prompts=2, support=kind))(graph)
        assert float(support.detach().amax(-1).mean() * 8) == pytest.approx(expected, rel=1e-3)


def test_diagnostics_of_uniform_and_one_hot_attention():
    accumulator = DiagnosticsAccumulator()
    uniform = torch.full((2, 5, 4), 0.25)
    graph = torch.ones(2, 5, 5)
    accumulator.update(PromptInternals(uniform, graph, torch.full((2, 5, 5), 0.2)))
    report = accumulator.report()
    assert report["npm_attention_entropy_ratio"] == pytest.approx(1.0)
    assert report["prompt_graph_offdiag_mean"] == pytest.approx(1.0)
    assert report["prompt_graph_offdiag_p5"] == pytest.approx(1.0, abs=1e-3)
    assert report["adaptive_support_rowmax_x_n"] == pytest.approx(1.0)
    sharp = DiagnosticsAccumulator()
    one_hot = torch.eye(4)[torch.arange(40) % 4].expand(2, 40, 4)
    cosines = torch.rand(2, 40, 40, generator=torch.Generator().manual_seed(0)) * 2 - 1
    sharp.update(PromptInternals(one_hot, cosines, None))
    report = sharp.report()
    assert report["npm_attention_entropy_ratio"] == pytest.approx(0.0, abs=1e-6)
    offdiag = cosines[:, ~torch.eye(40, dtype=torch.bool)]
    assert report["prompt_graph_offdiag_mean"] == pytest.approx(float(offdiag.mean()), abs=1e-6)
    assert report["prompt_graph_offdiag_p5"] == pytest.approx(float(torch.quantile(offdiag, 0.05)), abs=2e-3)
    assert report["adaptive_support_rowmax_x_n"] is None


def test_prompt_and_encoder_get_gradients():
    model = wrap_with_npm("GWN", NPMConfig(num_prompts=3, prompt_dim=4), **SMALL_GWN)
    model(torch.randn(2, 12, 5, 3), random_graph(5, "npm-grad")).square().mean().backward()
    assert model.bank.prompts.grad.abs().sum() > 0
    assert model.encoder.input_projection.weight.grad.abs().sum() > 0


def test_bad_npm_settings_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        NPMConfig(num_prompts=3, prompt_dim=5, num_heads=2)
    with pytest.raises(ValueError, match="score_scale"):
        NPMConfig(num_prompts=3, score_scale="dot")
    with pytest.raises(ValueError, match="support"):
        NPMConfig(num_prompts=3, support="mean")
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
