import numpy as np
import pytest
import torch

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.scaler import ZScore
from tsjt_basicts.data.split import Protocol, check_sources, split_source, split_target, window_starts
from tsjt_basicts.data.windows import CityWindows, JointSteps, allocate_source_batch, city_windows


def make_city(name: str, days: int, interval: int, nodes: int = 5, seed: int = 0, **kw) -> City:
    steps_per_day = 24 * 60 // interval
    series = np.random.default_rng(seed).normal(50, 10, (days * steps_per_day, nodes))
    return City(name, series, np.eye(nodes), interval, steps_per_day, **kw)


@pytest.mark.parametrize("interval, per_day", [(5, 288), (10, 144)])
def test_few_shot_window_counts_the_citys_own_days(interval, per_day):
    city = make_city("c", days=10, interval=interval)
    split = split_target(city, Protocol(target_days=3))
    assert (split.train.start, split.train.stop) == (0, 3 * per_day)
    assert split.test.stop == city.num_steps
    assert len(split.test) == round(0.2 * city.num_steps)
    assert split.val is None


def test_stgfsl_protocol_counts_288_steps_a_day_and_fits_on_the_whole_series():
    city = make_city("c", days=10, interval=10)
    split = split_target(city, Protocol(name="stgfsl", target_days=3))
    assert split.train.stop == 3 * 288  # the paper's convention, even at 10 minutes
    assert (split.scaler_fit.start, split.scaler_fit.stop) == (0, city.num_steps)


def test_train_val_test_windows_never_overlap_or_cross_a_boundary():
    city = make_city("c", days=10, interval=5)
    protocol = Protocol(target_days=3, val_days=1)
    split = split_target(city, protocol)
    covered = []
    for part in (split.train, split.val, split.test):
        starts = window_starts(part, protocol.window_len)
        assert starts.min() >= part.start and starts.max() + protocol.window_len <= part.stop
        covered.append({s + k for s in starts for k in range(protocol.window_len)})
    assert not covered[0] & covered[1] and not covered[1] & covered[2] and not covered[0] & covered[2]
    assert split.val.stop == 3 * 288 and len(split.val) == 288


def test_strict_scaler_sees_only_the_training_range():
    city = make_city("c", days=10, interval=5)
    split = split_target(city, Protocol())
    before = ZScore.fit(city, split.scaler_fit)
    city.series[split.train.stop :] += 1000.0  # anything after the few-shot days must not matter
    assert ZScore.fit(city, split.scaler_fit) == before


def test_scaler_ignores_missing_values_by_the_citys_convention():
    city = make_city("c", days=4, interval=60, zero_is_missing=True)
    city.series[::3, :, 0] = 0.0
    whole = split_source(city).scaler_fit
    observed = city.series[..., 0][city.series[..., 0] != 0]
    assert ZScore.fit(city, whole).mean == pytest.approx(observed.mean(), rel=1e-6)


def test_target_in_the_source_pool_is_refused():
    target = make_city("METR-LA", 10, 5)
    week = make_city("los-angeles", 7, 5, same_sensors_as=("METR-LA",))
    with pytest.raises(DataError, match="holds data of target"):
        check_sources(target, [make_city("PEMS-BAY", 10, 5), week])
    with pytest.raises(DataError, match="holds data of target"):
        check_sources(target, [target])


def test_too_short_series_gives_a_clear_error():
    with pytest.raises(DataError, match="overlaps the test range"):
        split_target(make_city("c", days=3, interval=5), Protocol(target_days=3))


def test_source_batch_allocation_sums_up_and_follows_sizes():
    assert allocate_source_batch(124, [10, 10, 10], "uniform") in ([42, 41, 41], [41, 42, 41], [41, 41, 42])
    sized = allocate_source_batch(124, [100, 300, 600], "size")
    assert sum(sized) == 124 and sized[0] < sized[1] < sized[2]


def test_joint_batches_keep_cities_apart_and_see_every_target_window_equally_often():
    protocol = Protocol()
    target = make_city("t", days=10, interval=10, nodes=4)
    sources = [make_city("s1", 8, 5, nodes=6, seed=1), make_city("s2", 8, 10, nodes=9, seed=2)]
    steps = JointSteps(
        city_windows(target, split_target(target, protocol), "train", protocol),
        [city_windows(s, split_source(s), "train", protocol) for s in sources],
        steps_per_epoch=7,
    )
    assert len(steps) == 7
    chunks = []
    for epoch in range(16):  # 16 x 7 steps x 4 windows = 448 windows: 415 once, 33 of them twice
        steps.set_epoch(epoch)
        for i in range(len(steps)):
            if epoch == 0:
                step = steps[i]
                assert step.target.inputs.shape[1:] == (12, 4, 3) and step.target.targets.shape[1:] == (6, 4)
                assert [b.inputs.shape[2] for b in step.sources] == [6, 9]
                assert sum(b.inputs.shape[0] for b in step.sources) == 124
            chunks.append(steps.target_positions(i))
    counts = np.bincount(np.concatenate(chunks), minlength=3 * 144 - 17)
    assert len(counts) == 3 * 144 - 17 and set(counts.tolist()) == {1, 2} and (counts == 2).sum() == 448 - 415
    steps.set_epoch(3)  # resuming at an epoch draws what the uninterrupted run drew
    np.testing.assert_array_equal(steps.target_positions(2), chunks[3 * 7 + 2])
    default = JointSteps(steps.target, steps.sources)
    assert len(default) == -(-(3 * 144 - 17) // 4)  # without steps_per_epoch: one pass per epoch


def test_ddp_processes_draw_different_source_windows_but_the_same_target_chunks():
    protocol = Protocol()
    target, source = make_city("t", 10, 10, nodes=3), make_city("s", 8, 10, nodes=5, seed=1)
    windows = (
        city_windows(target, split_target(target, protocol), "train", protocol),
        [city_windows(source, split_source(source), "train", protocol)],
    )
    rank0, rank1 = JointSteps(*windows, seed=7, rank=0), JointSteps(*windows, seed=7, rank=1)
    np.testing.assert_array_equal(rank0.target_positions(3), rank1.target_positions(3))
    assert not torch.equal(rank0[0].sources[0].inputs, rank1[0].sources[0].inputs)


def test_windows_hold_normalised_inputs_and_raw_targets():
    protocol = Protocol()
    city = make_city("c", days=10, interval=10)
    split = split_target(city, protocol)
    windows = city_windows(city, split, "test", protocol)
    batch = windows.batch(np.array([0]))
    start = split.test.start
    scaler = ZScore.fit(city, split.scaler_fit)
    np.testing.assert_allclose(batch.inputs[0, :, :, 0].numpy(), scaler.transform(city.series[start : start + 12, :, 0]), rtol=1e-5)
    np.testing.assert_allclose(batch.targets[0].numpy(), city.series[start + 12 : start + 18, :, 0], rtol=1e-6)
    assert isinstance(windows, CityWindows) and len(windows) == len(split.test) - 17
