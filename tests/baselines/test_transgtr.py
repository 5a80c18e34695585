"""TransGTR baseline: masked reconstruction, CORAL, the Gumbel graph and its degree regulariser, the
teacher's masking, settings checks and an end-to-end smoke run."""
import json

import numpy as np
import pytest
import torch

from baselines.common import baseline_result_path
from baselines.registry import baseline
from baselines.transgtr.baseline import TransGTRConfig, run
from baselines.transgtr.model import (PatchMAE, coral_loss, degree_penalty, gumbel_edges, masked_reconstruction_loss,
                                      row_normalised_support, split_patches)
from baselines.transgtr.training import history_positions
from tsjt_basicts.data.split import Protocol, split_source
from tsjt_basicts.data.tasks import load_task
from tsjt_basicts.data.windows import city_windows
from tsjt_basicts.errors import ConfigError


def test_masked_reconstruction_loss_ignores_unmasked_patches():
    generator = torch.Generator().manual_seed(0)
    patches = torch.randn(5, 4, 12, generator=generator)
    prediction = torch.randn(5, 4, 12, generator=generator)
    _, masked = split_patches(5, 4, 0.5, generator)
    loss = masked_reconstruction_loss(prediction, patches, masked)
    changed = torch.where(masked[..., None], prediction, prediction + 100.0)  # only unmasked patches change
    torch.testing.assert_close(masked_reconstruction_loss(changed, patches, masked), loss)
    expected = (prediction - patches).abs()[masked].mean()
    torch.testing.assert_close(loss, expected)
    worse = torch.where(masked[..., None], prediction + 1.0, prediction)  # a masked patch changes: the loss does
    assert masked_reconstruction_loss(worse, patches, masked) != loss


def test_masked_reconstruction_loss_skips_unobserved_steps():
    patches, prediction = torch.zeros(1, 2, 3), torch.tensor([[[1.0, 5.0, 1.0], [9.0, 9.0, 9.0]]])
    masked = torch.tensor([[True, False]])
    observed = torch.tensor([[[True, False, True], [True, True, True]]])
    assert masked_reconstruction_loss(prediction, patches, masked, observed).item() == pytest.approx(1.0)


def test_coral_is_zero_for_identical_sets_and_positive_otherwise():
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(40, 6, generator=generator)
    assert coral_loss(features, features.clone()).item() == pytest.approx(0.0, abs=1e-12)
    assert coral_loss(features, features + 0.5).item() > 0  # shifted mean
    assert coral_loss(features, 2 * features).item() > 0  # scaled covariance
    assert coral_loss(features, torch.randn(25, 6, generator=generator)).item() > 0  # another sample, other size


def test_gumbel_adjacency_rows_sum_to_one_and_edges_are_hard():
    torch.manual_seed(2)
    logits = torch.randn(3, 7, 7, requires_grad=True)
    edges = gumbel_edges(logits, temperature=0.5, sample=True)
    assert set(edges.detach().unique().tolist()) <= {0.0, 1.0}
    assert (edges.diagonal(dim1=1, dim2=2) == 0).all()
    support = row_normalised_support(edges)
    torch.testing.assert_close(support.sum(-1), torch.ones(3, 7))
    support.sum().backward()  # straight-through: the hard sample passes gradient to the logits
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    mode = gumbel_edges(torch.tensor([[[0.0, 2.0, -2.0], [-1.0, 0.0, 3.0], [1.0, -1.0, 0.0]]]), 0.5, sample=False)
    assert mode.tolist() == [[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]
    torch.testing.assert_close(row_normalised_support(torch.zeros(1, 4, 4)), torch.eye(4)[None])  # no edge: itself


def test_degree_penalty_is_zero_at_the_target_degree_only():
    ring = torch.roll(torch.eye(6), 1, dims=1)[None].expand(2, -1, -1)  # every node: degree 1
    both = ring + torch.roll(torch.eye(6), 2, dims=1)[None]  # degree 2
    assert degree_penalty(ring, 1.0).item() == 0.0 and degree_penalty(both, 2.0).item() == 0.0
    assert degree_penalty(both, 1.0).item() == pytest.approx((1 / 5) ** 2)
    assert degree_penalty(torch.ones(1, 4, 4) - torch.eye(4), 10.0).item() == 0.0  # capped at n - 1


def test_mae_reconstruction_depends_on_visible_patches_only():
    torch.manual_seed(3)
    mae = PatchMAE(patch_len=4, patches=4, dim=8, heads=2, depth=1).eval()
    segments = torch.randn(2, 16)
    visible = torch.tensor([[0, 2], [1, 3]])
    hidden_changed = segments.clone()
    hidden_changed[0, 4:8], hidden_changed[1, 0:4] = 50.0, -50.0  # patches 1 and 0: masked in their rows
    torch.testing.assert_close(mae.reconstruct(hidden_changed, visible), mae.reconstruct(segments, visible))
    seen_changed = segments.clone()
    seen_changed[0, 0:4] = 50.0
    assert not torch.allclose(mae.reconstruct(seen_changed, visible), mae.reconstruct(segments, visible))


def test_source_histories_lie_inside_the_series():
    protocol = Protocol(target_days=3.0)
    _, sources = load_task("synthetic", protocol=protocol)
    windows = [city_windows(city, split_source(city), "train", protocol) for city in sources]
    span = TransGTRConfig().span
    for found, city in zip(history_positions(windows, span), windows):
        assert len(found) == len(city) - (span - protocol.input_len)
        assert (city.starts[found] + protocol.input_len - span >= 0).all()


@pytest.mark.parametrize("settings, named", [
    ({"backbone": "DCRNN"}, "backbone"),
    ({"embed_dim": 10, "heads": 4}, "heads"),
    ({"mask_ratio": 1.0}, "mask_ratio"),
    ({"backbone_config": {"num_nodes": 20}}, "num_nodes"),
    ({"temperature": 0}, "temperature"),
    ({"val_days": 3.0}, "val_days"),
])
def test_bad_settings_end_in_one_config_error_line(settings, named):
    with pytest.raises(ConfigError) as raised:
        TransGTRConfig(**settings)
    assert named in str(raised.value) and "\n" not in str(raised.value)


def test_smoke_run_on_synthetic_writes_finite_metrics(tmp_path):
    config = baseline("TransGTR").settings("GWN", "smoke")
    record = run("synthetic", seed=0, out_root=str(tmp_path), config=config)
    path = baseline_result_path("TransGTR", "GWN", "synthetic", 0, str(tmp_path), config)
    written = json.loads(path.read_text())
    assert written["method"] == "TransGTR" and written["backbone"] == "GWN" and written["data_kind"] == "synthetic"
    assert all(np.isfinite(v) for v in written["metrics"]["avg"].values())
    assert record["metrics"]["avg"] == written["metrics"]["avg"]
    assert written["compute"]["source_steps"] == 9 and written["compute"]["target_steps"] == config.finetune_steps
