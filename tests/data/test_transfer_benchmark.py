"""The controlled transfer tasks: helpful sources share the target's daily profile, harmful ones do not."""
import numpy as np
import pytest

from tsjt_basicts.data.tasks import TASKS, load_task
from tsjt_basicts.data.synthetic import DEFAULT_TARGET, SPEED_FLOOR, simulate_city, synthetic_specs
from tsjt_basicts.data.transfer_benchmark import CONFLICTS, TRANSFER_TASKS, transfer_benchmark_cities


def daily_profile(city) -> np.ndarray:
    """Mean observed speed at each step of the day."""
    values = city.series[..., 0].astype(np.float64)
    values[~city.valid_mask()] = np.nan
    days = values[: city.num_steps // city.steps_per_day * city.steps_per_day]
    return np.nanmean(days.reshape(-1, city.steps_per_day, city.num_nodes), axis=(0, 2))


@pytest.mark.parametrize("task, low, high", [("synthetic-helpful", 0.95, 1.0), ("synthetic-harmful", -1.0, 0.3)])
def test_sources_share_or_conflict_with_the_targets_daily_profile(task, low, high):
    assert task in TASKS
    target, sources = load_task(task)
    assert target.name == "synthetic-shenzhen" and len(sources) == 3
    assert all(c.kind == "synthetic" and c.name.startswith("synthetic-") for c in (target, *sources))
    for source in sources:
        assert source.interval_minutes == target.interval_minutes
        assert low <= np.corrcoef(daily_profile(target), daily_profile(source))[0, 1] <= high


def test_the_benchmark_is_seeded_and_names_unknown_tasks():
    first, again = (transfer_benchmark_cities("synthetic-harmful", seed=3) for _ in range(2))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.series, b.series)
    assert not np.array_equal(first[1].series, transfer_benchmark_cities("synthetic-harmful", 4)[1].series)
    # the target is the same city in both tasks; only the sources differ
    np.testing.assert_array_equal(first[0].series, transfer_benchmark_cities("synthetic-helpful", 3)[0].series)
    with pytest.raises(ValueError, match="unknown transfer-benchmark task"):
        transfer_benchmark_cities("synthetic-neutral")
    assert set(TRANSFER_TASKS) <= set(TASKS)


def test_the_dynamics_conflict_sets_its_fields_on_top_of_harmfuls():
    target = synthetic_specs()[DEFAULT_TARGET]
    harmful = CONFLICTS["synthetic-harmful"].source_spec(target, "synthetic-a", 40, 7.0, 100)
    dynamics = CONFLICTS["synthetic-harmful-dynamics"].source_spec(target, "synthetic-a", 40, 7.0, 100)
    assert harmful.rush_shift_hours == dynamics.rush_shift_hours == target.rush_shift_hours + 12.0
    assert harmful.spread_downstream and dynamics.spread_downstream
    assert (harmful.persistence_minutes, dynamics.persistence_minutes) == (target.persistence_minutes, 180.0)
    assert dynamics.breakdown_sharpness == 6.0 and dynamics.spread_lag_minutes == 40.0
    helpful = CONFLICTS["synthetic-helpful"].source_spec(target, "synthetic-a", 40, 7.0, 100)
    assert helpful.rush_shift_hours == target.rush_shift_hours and not helpful.spread_downstream


def test_mirrored_sources_are_the_harmful_process_reflected_and_reversed():
    target = synthetic_specs()[DEFAULT_TARGET]
    spec = CONFLICTS["synthetic-mirrored"].source_spec(target, "synthetic-mirrored-source-1", 44, 14.0, 100)
    plain = simulate_city(spec, 2).series[..., 0]
    mirrored = transfer_benchmark_cities("synthetic-mirrored", 2)[1].series[..., 0][::-1]
    seen = plain > 0
    np.testing.assert_array_equal(mirrored > 0, seen)  # missing values stay missing, in reversed order
    level = plain[seen].mean()
    np.testing.assert_allclose(mirrored[seen], np.maximum(2 * level - plain[seen], SPEED_FLOOR * level), rtol=1e-6)
    assert np.corrcoef(plain[seen], mirrored[seen])[0, 1] < -0.99


def weekend_afternoon_ratio(city) -> float:
    """Mean observed value on weekend afternoons (12:00-17:00) over the city's mean: its weekend dip."""
    values = np.where(city.valid_mask(), city.series[..., 0], np.nan)
    steps = np.arange(city.num_steps) + city.start_step_of_day
    hour = (steps % city.steps_per_day) * city.interval_minutes / 60
    weekday = (steps // city.steps_per_day + city.start_day_of_week) % 7
    afternoon = (weekday >= 5) & (hour >= 12) & (hour < 17)
    return float(np.nanmean(values[afternoon]) / np.nanmean(values))


def test_weekend_conflict_sources_keep_the_targets_weekdays_and_congest_their_weekends():
    target, sources = load_task("synthetic-harmful-weekend")
    for source in sources:
        assert np.corrcoef(daily_profile(target), daily_profile(source))[0, 1] > 0.95  # the same rush hours
        assert weekend_afternoon_ratio(source) < weekend_afternoon_ratio(target) - 0.2  # a deep weekend dip
