import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from scipy.sparse.csgraph import shortest_path

from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.split import Protocol, split_target
from tsjt_basicts.data.synthetic import (
    PAPER_GRAPH_FOLDERS,
    SyntheticCitySpec,
    propagate_congestion,
    row_normalised,
    simulate_city,
    synthetic_cities,
    synthetic_specs,
)

SHARED_GRAPHS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "graphs"
PAPER_TABLE_1 = {  # name: (mean, std, interval, nodes, steps)
    "synthetic-la": (58.47, 12.91, 5, 207, 34272),
    "synthetic-bay": (62.62, 9.59, 5, 325, 52116),
    "synthetic-chengdu": (29.10, 9.75, 10, 524, 17280),
    "synthetic-shenzhen": (30.57, 11.09, 10, 627, 17280),
}


@pytest.fixture(scope="module")
def demo():
    return synthetic_cities(seed=0)


def small_spec(**changes) -> SyntheticCitySpec:
    spec = SyntheticCitySpec(name="synthetic-test", num_nodes=30, num_days=8, interval_minutes=5, mean=50.0, std=10.0)
    return dataclasses.replace(spec, **changes)


def observed_nan(city) -> np.ndarray:
    return np.where(city.valid_mask(), city.series[..., 0], np.nan)


def network_mean(city) -> np.ndarray:
    """Mean observed speed of every step; NaN at network-wide outages."""
    mask = city.valid_mask()
    total = np.where(mask, city.series[..., 0], 0.0).sum(axis=1)
    count = mask.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def residuals(city) -> np.ndarray:
    """Series minus each node's mean (workday or weekend) time-of-day profile; missing -> 0."""
    values = observed_nan(city)
    step = np.arange(city.num_steps)
    weekend = ((step // city.steps_per_day + city.start_day_of_week) % 7) >= 5
    slot = (step % city.steps_per_day) + weekend * city.steps_per_day
    profile = np.full((2 * city.steps_per_day, city.num_nodes), np.nan)
    observed = ~np.isnan(values)
    for s in np.unique(slot):
        rows = slot == s
        profile[s] = np.nansum(values[rows], axis=0) / np.maximum(observed[rows].sum(axis=0), 1)
    return np.nan_to_num(values - profile[slot])


def corr(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[both], b[both])[0, 1])


def test_demo_is_fast_and_deterministic_per_seed(demo):
    start = time.perf_counter()
    again = synthetic_cities(seed=0)
    assert time.perf_counter() - start < 2.0
    for a, b in zip(demo, again):
        assert a.name == b.name
        np.testing.assert_array_equal(a.series, b.series)
        np.testing.assert_array_equal(a.adjacency, b.adjacency)
        np.testing.assert_array_equal(a.locations, b.locations)


def test_different_seeds_give_different_cities(demo):
    other = synthetic_cities(seed=1)
    for a, b in zip(demo, other):
        assert a.series.shape == b.series.shape
        assert not np.array_equal(a.series, b.series)
        assert not np.array_equal(a.adjacency, b.adjacency)


def test_no_global_random_state_is_used_or_touched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = synthetic_cities(seed=5)[0]
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.random.seed(999)
    np.testing.assert_array_equal(a.series, synthetic_cities(seed=5)[0].series)


def test_target_first_then_sources_with_paper_intervals_and_own_sizes(demo):
    names = [c.name for c in demo]
    assert names == ["synthetic-shenzhen", "synthetic-la", "synthetic-bay", "synthetic-chengdu"]
    specs = synthetic_specs("demo")
    for city in demo:
        spec = specs[city.name]
        assert city.kind == "synthetic" and city.name.startswith("synthetic-")
        assert city.interval_minutes == PAPER_TABLE_1[city.name][2]
        assert city.steps_per_day == {5: 288, 10: 144}[city.interval_minutes]
        assert city.series.shape == (spec.num_steps, spec.num_nodes, 1) and city.series.dtype == np.float32
        assert 30 <= city.num_nodes <= 70 and 10 <= city.num_days <= 21
        assert city.zero_is_missing and city.graph_source == "synthetic"
        assert city.locations.shape == (city.num_nodes, 2)
        assert city.adjacency.shape == (city.num_nodes, city.num_nodes)
        assert (np.diag(city.adjacency) == 1).all() and (city.adjacency >= 0).all()
    assert len({c.num_nodes for c in demo}) == 4
    reordered = [c.name for c in synthetic_cities(seed=0, target="synthetic-la")]
    assert reordered[:2] == ["synthetic-la", "synthetic-shenzhen"]


@pytest.mark.parametrize("name", ["strict", "stgfsl"])
def test_target_fits_the_few_shot_protocol(demo, name):
    target = demo[0]
    split = split_target(target, Protocol(name=name, target_days=3))
    assert split.train.stop <= split.test.start


def test_levels_and_scales_follow_paper_table_1(demo):
    for city in demo:
        mean, std = PAPER_TABLE_1[city.name][:2]
        observed = city.series[..., 0][city.valid_mask()]
        assert abs(observed.mean() - mean) < 0.03 * mean
        assert abs(observed.std() - std) < 0.05 * std
        assert observed.min() > 0 and np.isfinite(city.series).all()


def test_daily_periodicity_of_the_network_mean(demo):
    for city in demo:
        net = network_mean(city)

        def autocorr(lag: int) -> float:
            return corr(net[:-lag], net[lag:])
        day = autocorr(city.steps_per_day)
        assert day > 0.5, (city.name, day)
        assert day > autocorr(city.steps_per_day // 2) + 0.5


def test_weekday_rush_hours_are_slower_than_weekends(demo):
    for city in demo:
        net = network_mean(city)
        step = np.arange(city.num_steps)
        hour = (step % city.steps_per_day) * city.interval_minutes / 60
        weekday = (step // city.steps_per_day + city.start_day_of_week) % 7
        rush = (hour >= 7) & (hour < 9) | (hour >= 17) & (hour < 19)
        night = (hour >= 1) & (hour < 4)
        std = city.series[..., 0][city.valid_mask()].std()
        workday_rush = np.nanmean(net[rush & (weekday < 5)])
        assert workday_rush < np.nanmean(net[rush & (weekday >= 5)]) - 0.1 * std
        assert workday_rush < np.nanmean(net[night]) - 0.2 * std


def test_missing_values_are_zeros_with_short_and_long_outages(demo):
    for city in demo:
        values, mask = city.series[..., 0], city.valid_mask()
        zeros = values == 0
        assert 0.005 <= zeros.mean() <= 0.10, (city.name, zeros.mean())
        np.testing.assert_array_equal(mask, ~zeros)
        assert not np.isnan(values).any()
    la = demo[1]
    runs = []  # lengths of the zero runs of every sensor
    for column in (la.series[..., 0] == 0).T:
        edges = np.diff(np.concatenate([[0], column.astype(int), [0]]))
        runs.extend(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))
    assert min(runs) <= 12 and max(runs) >= la.steps_per_day // 2  # short (<= 1 h) and long (>= 12 h)


def chain(n: int, directed: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A road of ``n`` sensors in shuffled index order; returns (adjacency, road position of each index)."""
    order = rng.permutation(n)  # order[k] = index of the k-th sensor along the road
    adj = np.eye(n, dtype=np.float32)
    adj[order[:-1], order[1:]] = 1.0  # k -> k+1: flows downstream
    if not directed:
        adj[order[1:], order[:-1]] = 1.0
    position = np.empty(n, dtype=int)
    position[order] = np.arange(n)
    return adj, order


def test_an_impulse_spreads_upstream_one_hop_per_lag_and_decays():
    adj, order = chain(8, directed=True, rng=np.random.default_rng(0))
    drive = np.zeros((60, 8), dtype=np.float32)
    source = order[5]
    drive[10, source] = 1.0
    x = propagate_congestion(drive, row_normalised(adj), persistence=0.7, gain=0.5, lag=3, hops=3)
    up1, up2, up4, down = order[4], order[3], order[1], order[6]
    assert x[10, source] > 0 and x[:10].max() == 0
    assert x[:13, up1].max() == 0 and x[13, up1] > 0  # the neighbour upstream reacts one lag later
    assert x[:16, up2].max() == 0 and x[16, up2] > 0  # two hops: two lags
    assert np.argmax(x[:, source]) < np.argmax(x[:, up1]) < np.argmax(x[:, up2])
    assert x[:, source].max() > x[:, up1].max() > x[:, up2].max()
    assert x[:, up4].max() == 0 and x[:, down].max() == 0  # beyond `hops`, and downstream: nothing
    assert x[-1, source] < 0.01 * x[:, source].max()  # it decays


def test_simulation_on_a_given_directed_road_shows_delayed_upstream_spread():
    rng = np.random.default_rng(0)
    adj, order = chain(30, directed=True, rng=rng)
    city = simulate_city(small_spec(num_days=10), seed=3, adjacency=adj)
    assert city.graph_source == "given" and city.locations is None
    np.testing.assert_array_equal(city.adjacency, adj)
    res = residuals(city)
    res -= uniform_filter1d(res, 25, axis=0)  # keep the fast part (< 2 h): incidents and demand waves
    lag = 3  # 15 minutes at 5 minutes a step (one hop takes 10 minutes, then builds up)
    downstream_leads, upstream_leads = [], []
    for k in range(len(order) - 1):
        up, down = order[k], order[k + 1]
        downstream_leads.append(corr(res[:-lag, down], res[lag:, up]))  # downstream now, upstream later
        upstream_leads.append(corr(res[:-lag, up], res[lag:, down]))
    assert np.mean(downstream_leads) > np.mean(upstream_leads) + 0.1


def test_neighbours_move_together_more_than_far_apart_sensors(demo):
    for city in demo:
        res = residuals(city)
        res -= res.mean(axis=1, keepdims=True)  # drop the city-wide day-to-day swings
        hops = shortest_path(city.adjacency > 0, unweighted=True, directed=False)
        c = np.corrcoef(res.T)
        near = c[hops == 1].mean()
        far = c[hops >= 4].mean()  # includes unreachable pairs (inf)
        assert near > far + 0.1, (city.name, near, far)


def test_given_graph_is_used_for_propagation():
    rng = np.random.default_rng(1)
    adj, order = chain(40, directed=False, rng=rng)
    city = simulate_city(small_spec(num_nodes=40), seed=0, adjacency=adj)
    res = residuals(city)
    c = np.corrcoef((res - res.mean(axis=1, keepdims=True)).T)
    position = np.argsort(order)
    gap = np.abs(position[:, None] - position[None, :])
    assert c[gap == 1].mean() > c[gap >= 6].mean() + 0.1
    other = simulate_city(small_spec(num_nodes=40), seed=0)
    assert other.graph_source == "synthetic" and not np.array_equal(other.series, city.series)


def test_a_given_graph_of_the_wrong_size_or_sign_raises():
    with pytest.raises(DataError, match="30 nodes"):
        simulate_city(small_spec(), adjacency=np.eye(29))
    bad = np.eye(30)
    bad[0, 1] = -1.0
    with pytest.raises(DataError, match="negative"):
        simulate_city(small_spec(), adjacency=bad)
    with pytest.raises(DataError):
        synthetic_cities(scale="demo", graph_dir=SHARED_GRAPHS)


def test_bad_arguments_raise():
    with pytest.raises(DataError, match="scale"):
        synthetic_cities(scale="huge")
    with pytest.raises(DataError, match="target"):
        synthetic_cities(target="METR-LA")
    with pytest.raises(DataError, match="synthetic-"):
        small_spec(name="la")
    with pytest.raises(DataError, match="1440"):
        small_spec(interval_minutes=7)
    with pytest.raises(DataError, match="seed"):
        simulate_city(small_spec(), seed=-1)


def test_paper_scale_specs_match_table_1():
    specs = synthetic_specs("paper")
    for name, (_, _, interval, nodes, steps) in PAPER_TABLE_1.items():
        assert (specs[name].num_nodes, specs[name].num_steps, specs[name].interval_minutes) == (nodes, steps, interval)
    assert set(specs) == set(PAPER_GRAPH_FOLDERS)


@pytest.mark.skipif(not SHARED_GRAPHS.is_dir(), reason="the shared real graphs are absent")
@pytest.mark.parametrize("name", sorted(PAPER_GRAPH_FOLDERS))
def test_simulates_on_the_real_paper_graphs(name):
    real = np.load(SHARED_GRAPHS / PAPER_GRAPH_FOLDERS[name] / "matrix.npy")
    spec = dataclasses.replace(synthetic_specs("paper")[name], num_days=2)  # paper nodes, short
    city = simulate_city(spec, seed=0, adjacency=real)
    assert city.num_nodes == PAPER_TABLE_1[name][3] and city.graph_source == "given"
    np.testing.assert_array_equal(city.adjacency, real.astype(np.float32))
    assert city.valid_mask().mean() > 0.8

