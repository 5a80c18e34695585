import numpy as np
import pytest
import torch

from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss


def test_metrics_mask_missing_values_and_report_minutes():
    target = torch.tensor([[[10.0, 0.0], [20.0, 5.0]]]).repeat(1, 3, 1)  # [1, 6, 2]
    prediction = target + torch.tensor([1.0, 100.0])  # huge error only on node 1
    mask = torch.tensor([True, False]).expand_as(target)
    acc = MetricAccumulator(horizon=6)
    acc.update(prediction, target, mask)
    report = acc.report(interval_minutes=10)
    assert report["avg"]["MAE"] == pytest.approx(1.0)
    assert report["avg"]["RMSE"] == pytest.approx(1.0)
    assert report["avg"]["MAPE"] == pytest.approx(100 * (0.1 + 0.05) / 2)
    assert report["step6"]["minutes"] == 60 and report["step1"]["minutes"] == 10


def test_real_zero_counts_are_scored_by_mae_but_left_out_of_mape():
    target = torch.zeros(1, 6, 1)
    acc = MetricAccumulator(horizon=6)
    acc.update(target + 2.0, target, torch.ones_like(target, dtype=torch.bool))
    report = acc.report(interval_minutes=60)
    assert report["avg"]["MAE"] == pytest.approx(2.0) and report["avg"]["MAPE"] == 0.0


def test_metrics_accumulate_over_batches_like_one_batch():
    rng = np.random.default_rng(0)
    pred, true = (torch.from_numpy(rng.normal(size=(8, 6, 5))) for _ in range(2))
    mask = torch.from_numpy(rng.random((8, 6, 5)) > 0.2)
    whole, parts = MetricAccumulator(6), MetricAccumulator(6)
    whole.update(pred, true, mask)
    parts.update(pred[:3], true[:3], mask[:3])
    parts.update(pred[3:], true[3:], mask[3:])
    np.testing.assert_allclose(whole.per_step()["RMSE"], parts.per_step()["RMSE"])
    expected = ((pred - true).abs() * mask).sum() / mask.sum()
    assert whole.report(5)["avg"]["MAE"] == pytest.approx(float(expected))
    assert float(masked_mae_loss(pred, true, mask)) == pytest.approx(float(expected))
