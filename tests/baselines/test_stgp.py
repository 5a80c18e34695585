"""STGP baseline: Graphormer encodings, the masked-patch loss, transfer by pre-training, the frozen network
while prompting, forecasts that never read the future, one-line refusals and an end-to-end smoke run."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from baselines.common import BestOnValidation, transfer_data
from baselines.registry import baseline
from baselines.stgp.baseline import build_model, city_data, forecast_loss, prepare, pretrain, prompt_stage, prompt_tune
from baselines.stgp.baseline import reconstruction_loss, run
from baselines.stgp.layers import GraphEncoding, city_structure, edge_buckets
from baselines.stgp.segments import hidden_grid, masked_patch_loss
from tsjt_basicts.backbones import CityGraph
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.split import Protocol
from tsjt_basicts.errors import ConfigError

SMOKE = baseline("STGP").settings("-", "smoke")
# node 0: in 1 / out 2 edges, node 1: in 2 / out 1, node 2: in 1 / out 1, node 3: in 0 / out 0
ADJACENCY = np.array([[0.0, 0.2, 1.0, 0.0], [0.5, 0.0, 0.0, 0.0], [0.0, 0.001, 0.0, 0.0], [0.0] * 4])


def structure_of(adjacency: np.ndarray):
    return city_structure(CityGraph(adjacency, "test"), num_degree=8, num_spatial=10, device="cpu")


def trained_encoding() -> GraphEncoding:
    torch.manual_seed(0)
    encoding = GraphEncoding(dim=6, heads=3, num_degree=8, num_spatial=10)
    with torch.no_grad():  # as after training: the non-padding rows differ from one another
        for table in (encoding.in_degree, encoding.out_degree, encoding.spatial):
            table.weight[1:].normal_()
    return encoding


def test_edge_buckets_scale_by_the_largest_weight_and_keep_weak_edges_apart_from_no_edge():
    expected = np.array([[0, 2, 10, 0], [5, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(edge_buckets(ADJACENCY, 10), expected)
    np.testing.assert_array_equal(edge_buckets(np.zeros((3, 3)), 10), np.zeros((3, 3)))


def test_graphormer_node_bias_depends_on_degree_and_permutes_with_the_nodes():
    city = structure_of(ADJACENCY)
    assert city.in_degree.tolist() == [1, 2, 1, 0] and city.out_degree.tolist() == [2, 1, 1, 0]
    encoding = trained_encoding()
    bias = encoding.node_bias(city)
    assert not torch.allclose(bias[0], bias[1]) and not torch.allclose(bias[0], bias[2])  # other degrees
    torch.testing.assert_close(bias[3], torch.zeros(6))  # degree 0: the padding rows
    order = torch.tensor([2, 0, 3, 1])
    permuted = structure_of(ADJACENCY[order][:, order])
    torch.testing.assert_close(encoding.node_bias(permuted), bias[order])
    torch.testing.assert_close(encoding.attention_bias(permuted), encoding.attention_bias(city)[:, order][:, :, order])


def test_graphormer_edge_bias_follows_the_graph():
    city, encoding = structure_of(ADJACENCY), trained_encoding()
    bias = encoding.attention_bias(city)  # [heads, n, n]
    assert bias.shape == (3, 4, 4)
    table = encoding.spatial.weight
    for i in range(4):
        for j in range(4):
            torch.testing.assert_close(bias[:, i, j], table[city.buckets[i, j]])
    assert (bias[:, torch.from_numpy(ADJACENCY == 0)] == 0).all()  # no edge: no bias
    assert (bias[:, torch.from_numpy(ADJACENCY > 0)] != 0).all()  # every edge, the weakest too, has one
    assert not torch.allclose(bias[:, 0, 2], bias[:, 1, 0])  # weights 1.0 and 0.5: other buckets


def test_masked_patch_loss_ignores_kept_patches():
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(2, 3, 4 * 5, generator=generator)  # [b n p*l]: 3 nodes, 4 patches of 5 steps
    observed = torch.ones_like(values, dtype=torch.bool)
    hidden = hidden_grid(3, 4, kept_nodes=torch.tensor([0, 2]), kept_patches=torch.tensor([0, 1, 3]))
    assert hidden.tolist() == [[False, False, True, False], [True] * 4, [False, False, True, False]]
    exact = values.unflatten(-1, (4, 5)).clone()
    off = exact + torch.where(hidden, 1.0, 50.0)[None, :, :, None]  # 1 at hidden patches, 50 at kept ones
    assert masked_patch_loss(off, values, observed, hidden).item() == pytest.approx(1.0)
    assert masked_patch_loss(exact + 50 * (~hidden)[None, :, :, None], values, observed, hidden).item() == 0.0
    unobserved = observed.unflatten(-1, (4, 5)).clone()
    unobserved[:, 1, 0] = False  # a hidden patch never observed: not counted
    off[:, 1, 0] += 100.0
    assert masked_patch_loss(off, values, unobserved.flatten(-2), hidden).item() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def synthetic():
    return transfer_data("STGP", "synthetic", "strict", SMOKE.target_days, SMOKE.data_seed, None, "cpu", SMOKE.val_days)


def snapshot(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def changed(before: dict, model) -> set:
    return {name for name, p in model.named_parameters() if not torch.equal(before[name], p)}


def test_prompting_changes_only_the_stage_s_prompts(synthetic):
    torch.manual_seed(0)
    config = replace(SMOKE, finetune_steps=4, batch_size=8)
    model = build_model(config, synthetic.protocol)
    target = city_data(synthetic.target_train, config, "cpu")
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    no_validation = BestOnValidation(model, None, config.eval_every, config.finetune_steps)
    before = snapshot(model)
    prompt_stage(model, target, config, "domain", range(1, 3), rng, generator, no_validation, CurveLog(2))
    assert changed(before, model) == {"domain_temporal.prompts", "domain_spatial.prompts"}
    assert bool(model.domain_prompted) and not bool(model.task_prompted)
    before = snapshot(model)
    prompt_stage(model, target, config, "task", range(3, 5), rng, generator, no_validation, CurveLog(2))
    assert changed(before, model) == {"task_kept.prompts", "task_masked.prompts"}  # encoder and decoder frozen
    assert bool(model.task_prompted)


def test_prompt_tuning_splits_the_budget_and_keeps_the_encoder_frozen(synthetic):
    torch.manual_seed(1)
    config = replace(SMOKE, finetune_steps=6, domain_share=0.5, batch_size=8)
    model = build_model(config, synthetic.protocol)
    target = city_data(synthetic.target_train, config, "cpu")
    before = snapshot(model)
    steps = []
    selector = BestOnValidation(model, None, 1, config.finetune_steps)
    selector.check = steps.append
    prompt_tune(model, target, config, np.random.default_rng(0), torch.Generator().manual_seed(0), selector)
    assert steps == [1, 2, 3, 4, 5, 6]
    assert changed(before, model) == {"domain_temporal.prompts", "domain_spatial.prompts", "task_kept.prompts",
                                      "task_masked.prompts"}
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))


def test_pre_training_on_the_sources_lowers_the_target_s_reconstruction_and_forecast_errors(synthetic):
    torch.manual_seed(0)
    config = replace(SMOKE, embed_dim=16, pretrain_steps=60, source_batch_size=8, lr=3e-3, dropout=0.0)
    model, sources, target = prepare(synthetic, config, "cpu")
    positions = target.positions[:32]

    def errors() -> tuple[float, float]:
        with torch.no_grad():
            masked = reconstruction_loss(model, target, positions, config, torch.Generator().manual_seed(3))
            return masked.item(), forecast_loss(model, target, positions, config).item()

    before = errors()
    pretrain(model, sources, config, np.random.default_rng(0), torch.Generator().manual_seed(0))
    after = errors()
    assert after[0] < 0.8 * before[0] and after[1] < 0.8 * before[1]  # zero-shot: the target is never trained on


def test_forecasts_never_read_the_future_and_permute_with_the_nodes():
    torch.manual_seed(0)
    config = replace(SMOKE, dropout=0.0)
    model = build_model(config, Protocol()).eval()
    model.start_prompting("domain"), model.start_prompting("task")
    city = structure_of(ADJACENCY)
    values = torch.randn(2, 4, config.history_steps + 6)
    hours, weekdays = torch.randint(24, (2, 9)), torch.randint(7, (2, 9))
    forecast = model.forecast(values, hours, weekdays, city)
    assert forecast.shape == (2, 6, 4)
    other_future = values.clone()
    other_future[..., config.history_steps:] = 100.0
    torch.testing.assert_close(model.forecast(other_future, hours, weekdays, city), forecast)
    order = torch.tensor([2, 0, 3, 1])
    permuted = model.forecast(values[:, order], hours, weekdays, structure_of(ADJACENCY[order][:, order]))
    torch.testing.assert_close(permuted, forecast[:, :, order], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("changes, message", [
    (dict(embed_dim=10, num_heads=4), "embed_dim \\(10\\) must be a multiple of num_heads \\(4\\)"),
    (dict(history_steps=50), "history_steps \\(50\\) must be a multiple of patch_len \\(6\\)"),
    (dict(domain_share=1.0), "domain_share must be a finite number in \\[0, 1\\)"),
    (dict(mask_ratio=0.0), "mask_ratio must be a finite number in \\(0, 1\\)"),
    (dict(num_degree=1), "num_degree must be an integer >= 2"),
    (dict(val_days=3.0), "val_days \\(3.0\\) must be below target_days"),
])
def test_bad_settings_are_refused_in_one_line(changes, message):
    with pytest.raises(ConfigError, match=message) as refused:
        replace(SMOKE, **changes)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("changes, message", [
    (dict(patch_len=4, history_steps=48), "patch_len \\(4\\) must divide the 6 output steps"),
    (dict(patch_len=6, history_steps=6), "history_steps \\(6\\) must be at least the 12 input steps"),
])
def test_patches_that_do_not_fit_the_windows_are_refused_before_any_work(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        run("synthetic", out_root=str(tmp_path), config=replace(SMOKE, **changes))
    assert not list(tmp_path.rglob("*.json"))


def test_a_history_longer_than_the_few_shot_days_is_refused_in_one_line(tmp_path):
    with pytest.raises(DataError, match="no training window has 864 steps of history .* lower STGPConfig.history_step"):
        run("synthetic", out_root=str(tmp_path), config=replace(SMOKE, history_steps=864))
    assert not list(tmp_path.rglob("*.json"))


def test_smoke_run_on_the_synthetic_task_writes_finite_metrics(tmp_path):
    returned = run("synthetic", seed=0, out_root=str(tmp_path), config=SMOKE)
    [path] = list(tmp_path.rglob("test_metrics.json"))
    record = json.loads(path.read_text())
    assert record["method"] == "STGP" and record["backbone"] == "-" and record["target"] == "synthetic-shenzhen"
    assert record["compute"]["source_steps"] == SMOKE.pretrain_steps == 4
    assert record["compute"]["target_steps"] == SMOKE.finetune_steps == 6
    for name in ("MAE", "RMSE"):
        assert math.isfinite(record["metrics"]["avg"][name]) and record["metrics"]["avg"][name] > 0
    assert record["metrics"] == returned["metrics"]
    assert record["selection"]["selected_step"] in (3, 6)  # validated every 3 of 6 steps
