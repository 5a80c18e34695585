"""TPB baseline: k-means, bank query, pre-training, few-shot range and an end-to-end smoke run."""
import json
import math

import numpy as np
import pytest
import torch

from baselines.common import BestOnValidation, baseline_result_path
from baselines.tpb import (
    BankQuery,
    PatchEncoder,
    TPBConfig,
    TPBForecaster,
    fitting_positions,
    kmeans,
    pretrain,
    random_masks,
    run,
    train_forecaster,
)
from tsjt_basicts.data.split import Protocol, split_target
from tsjt_basicts.data.tasks import load_task
from tsjt_basicts.data.windows import city_windows

TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)
TINY = TPBConfig(
    history_patches=3, embed_dim=8, pretrain_epochs=1, max_segments=600, num_patterns=6, kmeans_iters=10,
    top_k=2, backbone_config=TINY_GWN, finetune_steps=2, batch_size=64,
)



def test_kmeans_recovers_well_separated_clusters():
    generator = torch.Generator().manual_seed(0)
    truth = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    labels = torch.arange(4).repeat_interleave(50)
    points = truth[labels] + 0.3 * torch.randn(200, 2, generator=generator)
    centres, found = kmeans(points, 4, 20, generator)
    for cluster in range(4):  # every true blob maps onto exactly one found cluster, and back
        assert found[labels == cluster].unique().numel() == 1
    assert found.unique().numel() == 4
    nearest = torch.cdist(truth, centres).min(1).values
    assert (nearest < 0.2).all()


def test_bank_query_is_a_convex_top_k_mix_of_the_values():
    generator = torch.Generator().manual_seed(1)
    keys = torch.nn.functional.normalize(torch.randn(8, 4, generator=generator), dim=1)
    values = torch.randn(8, 5, generator=generator)
    query = BankQuery(keys, values, top_k=3)
    queries = torch.randn(2, 7, 4, generator=generator)
    weights = query.weights(queries)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 7))
    assert ((weights > 0).sum(-1) == 3).all() and (weights >= 0).all()
    mixed = query(queries)
    torch.testing.assert_close(mixed, weights @ values)
    assert (mixed <= values.max(0).values + 1e-6).all() and (mixed >= values.min(0).values - 1e-6).all()
    with pytest.raises(ValueError):
        BankQuery(keys, values, top_k=9)


def test_pretraining_reduces_the_masked_reconstruction_loss():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    config = TPBConfig(history_patches=4, embed_dim=16, pretrain_epochs=15, pretrain_batch_size=64, lr=3e-3)
    steps = torch.arange(config.span, dtype=torch.float32)
    phases = 2 * math.pi * torch.rand(256, 1, generator=generator)
    segments = torch.sin(2 * math.pi * steps / 24 + phases) + 0.05 * torch.randn(256, config.span, generator=generator)
    encoder = PatchEncoder(config)
    masks = random_masks(len(segments), config, torch.Generator().manual_seed(5))
    with torch.no_grad():
        before = encoder.reconstruction_loss(segments, masks).item()
    pretrain(encoder, segments, config, generator)
    with torch.no_grad():
        after = encoder.reconstruction_loss(segments, masks).item()
    assert after < 0.6 * before


def test_target_training_never_reads_outside_the_few_shot_range():
    protocol = Protocol(target_days=3.0)
    target, _ = load_task("synthetic", protocol=protocol)
    split = split_target(target, protocol)
    windows = city_windows(target, split, "train", protocol)
    positions = fitting_positions(windows, split.train, TINY.span)
    starts = windows.starts[positions]
    assert len(positions) == len(windows) - (TINY.span - protocol.input_len)  # only windows lacking history dropped
    assert (starts + protocol.input_len - TINY.span >= split.train.start).all()
    assert (starts + protocol.window_len <= split.train.stop).all()
    # poison every step outside the few-shot range: one read of it would make the weights NaN
    outside = torch.ones(target.num_steps, dtype=torch.bool)
    outside[split.train.start : split.train.stop] = False
    windows.features[outside] = math.nan
    windows.targets[outside] = math.nan
    torch.manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(TINY.num_patterns, TINY.embed_dim), dim=1)
    query = BankQuery(keys, torch.randn(TINY.num_patterns, TINY.patch_len), TINY.top_k)
    model = TPBForecaster(PatchEncoder(TINY), query, TINY, protocol)
    no_validation = BestOnValidation(model, None, TINY.eval_every, TINY.finetune_steps)
    train_forecaster(model, windows, positions, TINY, torch.Generator().manual_seed(0), no_validation)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_smoke_run_on_synthetic_writes_finite_metrics(tmp_path):
    record = run("synthetic", seed=0, out_root=str(tmp_path), config=TINY)
    path = baseline_result_path("TPB", "GWN", "synthetic", 0, str(tmp_path), TINY)
    written = json.loads(path.read_text())
    assert written["data_kind"] == "synthetic" and written["method"] == "TPB" and written["backbone"] == "GWN"
    assert written["task"] == "synthetic" and written["seed"] == 0 and written["target_days"] == 3.0
    assert all(np.isfinite(v) for v in written["metrics"]["avg"].values())
    assert record["metrics"]["avg"] == written["metrics"]["avg"]
