import math

import numpy as np
import pytest
import torch

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.scaler import ZScore
from tsjt_basicts.data.split import Protocol, StepRange
from tsjt_basicts.data.windows import CityWindows, day_types, time_features
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss
from tsjt_basicts.results import result_record


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
    assert report["avg"]["MAE"] == pytest.approx(2.0)
    assert report["avg"]["MAPE"] is None and report["step1"]["MAPE"] is None  # no nonzero target: undefined, not 0


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


def test_a_horizon_step_with_nothing_observed_is_undefined_not_perfect():
    target = torch.ones(2, 6, 3)
    mask = torch.ones_like(target, dtype=torch.bool)
    mask[:, 0] = False  # step 1 never observed
    acc = MetricAccumulator(horizon=6)
    acc.update(target + 1.0, target, mask)
    report = acc.report(interval_minutes=5)
    assert report["step1"] == {"minutes": 5, "MAE": None, "RMSE": None, "MAPE": None}
    assert report["step3"]["MAE"] == pytest.approx(1.0) and report["avg"]["MAE"] == pytest.approx(1.0)
    assert math.isnan(acc.per_step()["MAE"][0]) and report["per_step"]["MAE"][0] is None
    assert acc.scored == 2 * 5 * 3 and acc.non_finite() == []


def test_a_diverged_model_is_named_and_never_scored_as_a_number():
    target = torch.ones(1, 6, 2)
    acc = MetricAccumulator(horizon=6)
    acc.update(torch.full_like(target, float("nan")), target, torch.ones_like(target, dtype=torch.bool))
    assert acc.non_finite() == ["MAE", "RMSE", "MAPE"]
    report = acc.report(interval_minutes=10)
    assert report["avg"] == {"MAE": None, "RMSE": None, "MAPE": None}
    exploded = MetricAccumulator(horizon=6)
    exploded.update(torch.full_like(target, float("inf")), target, torch.ones_like(target, dtype=torch.bool))
    assert exploded.non_finite() == ["MAE", "RMSE", "MAPE"] and exploded.report(10)["step6"]["RMSE"] is None


def blank_test_range_windows() -> CityWindows:
    """Windows over the last 40 hours of a city whose series is missing there."""
    series = np.random.default_rng(0).random((140, 3)).astype(np.float32) + 1.0
    series[100:] = np.nan
    city = City("blank-end", series, np.eye(3, dtype=np.float32), interval_minutes=60, steps_per_day=24)
    return CityWindows(city, ZScore.fit(city, StepRange(0, 100)), StepRange(100, 140), Protocol())


def test_a_test_range_with_no_observed_value_fails_instead_of_scoring_zero():
    windows = blank_test_range_windows()
    acc = MetricAccumulator(horizon=6)
    batch = windows.batch(np.arange(len(windows)))
    acc.update(batch.targets, batch.targets, batch.mask)  # a perfect forecast of nothing
    with pytest.raises(DataError, match=r"city 'blank-end': every value of its test range \(steps 112-140"):
        result_record({"method": "HA"}, windows, "strict", acc, device="cpu")


def test_day_types_follow_the_start_date_and_time_of_day():
    # hourly, step 0 is a Friday 12:00: steps 0-11 Friday, 12-59 the weekend, 60 Monday 00:00
    friday_noon = City("c", np.ones((80, 1)), np.eye(1), 60, 24, start_day_of_week=4, start_step_of_day=12)
    types = day_types(friday_noon, np.array([0, 11, 12, 59, 60]))
    assert types.tolist() == ["weekday", "weekday", "weekend", "weekend", "weekday"]
    assert day_types(City("c", np.ones((80, 1)), np.eye(1), 60, 24), np.arange(3)) is None  # no date: no guess


def test_day_types_agree_with_the_models_day_of_week_feature():
    city = City("c", np.ones((400, 1)), np.eye(1), 30, 48, start_day_of_week=2, start_step_of_day=31)
    weekday = np.rint(time_features(city)[:, 1] * 7)  # the input channel, over more than a week
    expected = np.where(weekday >= 5, "weekend", "weekday")
    assert (day_types(city, np.arange(city.num_steps)) == expected).all()


def test_metrics_by_day_type_are_the_metrics_of_each_part_alone():
    rng = np.random.default_rng(1)
    pred, true = (torch.from_numpy(rng.normal(size=(10, 6, 4))) for _ in range(2))
    mask = torch.from_numpy(rng.random((10, 6, 4)) > 0.3)
    labels = np.array(["weekday"] * 7 + ["weekend"] * 3)
    grouped = MetricAccumulator(horizon=6)
    grouped.update(pred[:4], true[:4], mask[:4], labels[:4])
    grouped.update(pred[4:], true[4:], mask[4:], labels[4:])
    report = grouped.report(interval_minutes=5)
    whole = MetricAccumulator(horizon=6)
    whole.update(pred, true, mask)
    assert report["avg"] == pytest.approx(whole.report(5)["avg"])  # the overall metrics are unchanged
    for name, rows in (("weekday", slice(0, 7)), ("weekend", slice(7, 10))):
        alone = MetricAccumulator(horizon=6)
        alone.update(pred[rows], true[rows], mask[rows])
        assert report["by_day_type"][name] == pytest.approx({"windows": rows.stop - rows.start, **alone.average()})
    assert "by_day_type" not in whole.report(5)  # no labels: no breakdown
