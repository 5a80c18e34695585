"""HA and ARIMA give known answers on constructed cities and finite metrics on the synthetic task."""
import dataclasses
import json
import logging
import math
from functools import partial

import numpy as np
import pytest
from statsmodels.tsa.arima.model import ARIMA
from threadpoolctl import threadpool_limits

from baselines import arima, ha
from baselines.common import baseline_result_path, evaluate
from tsjt_basicts.data.city import City
from tsjt_basicts.data.split import Protocol, StepRange, split_target
from tsjt_basicts.data.tasks import load_task

PROTOCOL = Protocol()  # 3 few-shot days, 12 in, 6 out, last 20% test
META = {"method": "test", "backbone": "-"}


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """statsmodels' tiny matrices gain nothing from BLAS threads, which spin badly on a busy 2-core box."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def periodic_city(days: int = 10, steps_per_day: int = 24, nodes: int = 3, **kw) -> City:
    """Node n at slot s of every day: 10 n + s (an exact daily repeat)."""
    slots = np.arange(days * steps_per_day) % steps_per_day
    series = 10.0 * np.arange(nodes)[None, :] + slots[:, None]
    return City("periodic", series, np.eye(nodes), 60, steps_per_day, **kw)


def test_ha_is_exact_on_a_daily_periodic_series():
    record = evaluate(periodic_city(), ha.fit_ha, META, PROTOCOL)
    assert record["metrics"]["avg"]["MAE"] == 0.0 and record["metrics"]["avg"]["RMSE"] == 0.0
    assert record["test_windows"] == 48 - PROTOCOL.window_len + 1
    assert "by_day_type" not in record["metrics"]  # the start date is unknown: no day type is guessed


def test_a_dated_city_is_also_scored_on_weekdays_and_weekends_apart():
    record = evaluate(periodic_city(start_day_of_week=0), ha.fit_ha, META, PROTOCOL)  # days 8-9: Tue, Wed
    assert record["metrics"]["by_day_type"] == {"weekday": {"windows": record["test_windows"], "MAE": 0.0,
                                                            "RMSE": 0.0, "MAPE": 0.0}}
    saturday_start = evaluate(periodic_city(start_day_of_week=5), ha.fit_ha, META, PROTOCOL)  # days 8-9: Sun, Mon
    parts = saturday_start["metrics"]["by_day_type"]
    assert set(parts) == {"weekday", "weekend"}
    assert parts["weekday"]["windows"] + parts["weekend"]["windows"] == saturday_start["test_windows"]


def test_ha_averages_observed_values_per_slot_with_node_and_global_fallbacks():
    city = periodic_city(days=10, steps_per_day=4, nodes=3)
    series = city.series[..., 0].copy()
    series[:12] += np.repeat([-1.0, 0.0, 4.0], 4)[:, None]  # few-shot day d shifted by -1, 0, +4
    series[4 + 2, 0] = np.nan  # day 1, slot 2, node 0 missing: mean of days 0 and 2 only
    series[[1, 5, 9], 1] = np.nan  # slot 1 of node 1 never observed: the node's few-shot mean
    series[:12, 2] = np.nan  # node 2 never observed: the mean of every observed few-shot value
    table = ha.slot_means(dataclasses.replace(city, series=series), StepRange(0, 12))
    assert table[0, 0] == pytest.approx(1.0)  # 0 + (-1 + 0 + 4) / 3
    assert table[2, 0] == pytest.approx(2.0 + 1.5)  # 2 + (-1 + 4) / 2
    observed_node1 = series[:12, 1][~np.isnan(series[:12, 1])]
    assert table[1, 1] == pytest.approx(observed_node1.mean())
    assert table[3, 1] == pytest.approx(13.0 + 1.0)
    assert np.allclose(table[:, 2], np.nanmean(series[:12, :2]))
    starts = np.array([30])  # outputs at steps 42..47: slots 2, 3, 0, 1, 2, 3
    assert np.array_equal(ha.slot_forecast(table, starts, PROTOCOL)[0, :, 0], table[[2, 3, 0, 1, 2, 3], 0])


def test_ha_leaves_out_zeros_where_zero_means_missing():
    city = periodic_city(days=10, steps_per_day=4, nodes=1, zero_is_missing=True)
    series = city.series[..., 0] + 5.0
    series[[0, 4], 0] = 0.0  # slot 0 failed on days 0 and 1
    table = ha.slot_means(dataclasses.replace(city, series=series), StepRange(0, 12))
    assert table[0, 0] == 5.0


def sparse_shock_ar1(steps_per_day: int = 288, days: int = 8, period: int = 72, shock: float = 10.0):
    """Node 0: x_t = 0.8 x_{t-1} + 10 (mean 50) with a shock of alternating sign every ``period``
    steps (half-way, so the shocks of the few-shot window cancel); node 1: constant 7."""
    deviation = np.zeros(days * steps_per_day)
    for t in range(1, len(deviation)):
        kick = shock * (-1) ** (t // period) if t % period == period // 2 else 0.0
        deviation[t] = 0.8 * deviation[t - 1] + kick
    series = np.stack([50.0 + deviation, np.full_like(deviation, 7.0)], axis=1)
    return City("ar1", series, np.eye(2), 5, steps_per_day), deviation


def test_arima_recovers_an_ar1_recursion_and_falls_back_to_ha_on_a_constant_node(caplog):
    city, deviation = sparse_shock_ar1()
    split = split_target(city, PROTOCOL)
    with caplog.at_level(logging.WARNING, logger="baselines.arima"):
        forecast = arima.fit_arima(city, split.train, PROTOCOL, order=(1, 0, 0), max_workers=1)
    assert "node 1: constant few-shot series" in caplog.text and "node 0" not in caplog.text
    shock_step = (split.test.start // 72 + 1) * 72 + 36
    start = shock_step - 6  # the shock is the window's 7th input
    prediction = forecast(np.array([start]))[0]  # [6, 2]
    continuation = 50.0 + deviation[start + 11] * 0.8 ** np.arange(1, 7)
    assert np.allclose(prediction[:, 0], continuation, atol=0.02)
    assert np.array_equal(prediction[:, 1], np.full(6, 7.0))


def test_the_affine_forecast_map_equals_statsmodels_apply():
    rng = np.random.default_rng(0)
    series = 20.0 + np.convolve(rng.normal(size=400), [1.0, 0.6, 0.3], mode="same")
    result = ARIMA(series, order=(3, 0, 1), trend="c").fit()
    weights, bias = arima.affine_forecast(result, np.full(12, series.mean()), float(series.std()), 6)
    for window in rng.normal(20.0, 2.0, (3, 12)):
        assert np.allclose(bias + weights @ window, result.apply(window).forecast(6), rtol=1e-7, atol=1e-7)


def test_a_fit_past_its_time_limit_falls_back():
    series = 20.0 + np.random.default_rng(1).normal(size=300)
    model = arima.fit_node(series, (3, 0, 1), 12, 6, maxiter=50, time_limit_s=0.0)
    assert model.weights is None and "time limit" in model.fallback


def assert_finite(record: dict) -> None:
    assert record["data_kind"] == "synthetic" and record["target"] == "synthetic-shenzhen"
    assert all(math.isfinite(record["metrics"][k][m]) for k in ("step1", "step6", "avg") for m in ("MAE", "RMSE"))


def test_ha_run_writes_finite_metrics_on_the_synthetic_task(tmp_path):
    record = ha.run("synthetic", seed=3, out_root=str(tmp_path))
    written = json.loads(baseline_result_path("HA", "-", "synthetic", 3, str(tmp_path), None).read_text())
    assert written == record
    assert_finite(record)
    assert {k: record[k] for k in ("method", "backbone", "task", "seed", "target_days", "protocol")} == {
        "method": "HA", "backbone": "-", "task": "synthetic", "seed": 3, "target_days": 3.0, "protocol": "strict"
    }


def test_arima_in_a_process_pool_gives_finite_metrics_on_synthetic_nodes():
    target, _ = load_task("synthetic")
    few = dataclasses.replace(
        target, series=target.series[:, :4], adjacency=target.adjacency[:4, :4], locations=target.locations[:4]
    )
    record = evaluate(few, partial(arima.fit_arima, max_workers=2), META, PROTOCOL)
    assert_finite(record)
    assert record["metrics"]["avg"] != evaluate(few, ha.fit_ha, META, PROTOCOL)["metrics"]["avg"]


@pytest.mark.slow
def test_arima_run_on_the_whole_synthetic_target(tmp_path):
    assert_finite(arima.run("synthetic", out_root=str(tmp_path)))
    assert baseline_result_path("ARIMA", "-", "synthetic", 0, str(tmp_path), None).is_file()
