import numpy as np
import pytest

from tsjt_basicts.data import synthetic_paper
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.synthetic_paper import synthetic_paper_city, synthetic_paper_spec
from tsjt_basicts.data.tasks import (
    SYNTHETIC_PAPER_CITIES,
    TASKS,
    load_city,
    load_task,
    paper_graph_file,
    shared_datasets_root,
)

SHARED = shared_datasets_root()
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared datasets not at {SHARED}")

# Table 1 of the paper: nodes, steps, interval (minutes); ST-GFSL's published mean / std of the speeds
TABLE_1 = {
    "METR-LA": (207, 34272, 5, 58.465786, 12.905341),
    "PEMS-BAY": (325, 52116, 5, 62.621583, 9.588114),
    "Chengdu": (524, 17280, 10, 29.098298, 9.753043),
    "Shenzhen": (627, 17280, 10, 30.573561, 11.092261),
}


@pytest.fixture(scope="module")
def metr_la():
    """The smallest paper city at its full length (a few seconds)."""
    return load_city("synthetic-paper-METR-LA", seed=0)


@pytest.mark.parametrize("city", TABLE_1)
def test_specs_have_table_1_size_interval_and_statistics(city):
    nodes, steps, interval, mean, std = TABLE_1[city]
    spec = synthetic_paper_spec(city)
    assert (spec.num_nodes, spec.num_steps, spec.interval_minutes) == (nodes, steps, interval)
    assert (spec.mean, spec.std) == (mean, std)
    assert spec.name == f"synthetic-paper-{city}"


@needs_shared
def test_the_smallest_city_matches_table_1_at_full_length(metr_la):
    nodes, steps, interval, mean, std = TABLE_1["METR-LA"]
    assert metr_la.series.shape == (steps, nodes, 1) and metr_la.series.dtype == np.float32
    assert (metr_la.interval_minutes, metr_la.steps_per_day, metr_la.kind) == (interval, 288, "synthetic")
    observed = metr_la.series[metr_la.valid_mask()]
    assert observed.mean() == pytest.approx(mean, rel=0.01) and observed.std() == pytest.approx(std, rel=0.03)
    assert 0.02 < 1 - metr_la.valid_mask().mean() < 0.12  # zeros = failed sensors, as in the real file


@needs_shared
@pytest.mark.parametrize("city", TABLE_1)
def test_each_city_runs_on_its_real_graph(city):
    short = synthetic_paper_city(city, seed=0, days=2)
    real = np.load(paper_graph_file(city))
    assert short.graph_source == "given" and short.num_nodes == TABLE_1[city][0]
    np.testing.assert_array_equal(short.adjacency, real.astype(np.float32))
    assert short.interval_minutes == TABLE_1[city][2] and short.num_steps == 2 * 24 * 60 // TABLE_1[city][2]


@needs_shared
def test_generation_is_deterministic_per_seed():
    first, again, other = (synthetic_paper_city("Shenzhen", seed, days=3) for seed in (4, 4, 5))
    np.testing.assert_array_equal(first.series, again.series)
    assert not np.array_equal(first.series, other.series)


@needs_shared
def test_a_task_loads_its_target_and_the_other_three_as_sources(monkeypatch):
    full_spec = synthetic_paper_spec
    monkeypatch.setattr(synthetic_paper, "synthetic_paper_spec", lambda city, days=None: full_spec(city, 14))
    target, sources = load_task("synthetic-paper-Shenzhen", seed=1)
    assert (target.name, target.num_nodes, target.kind) == ("synthetic-paper-Shenzhen", 627, "synthetic")
    assert {s.name: s.num_nodes for s in sources} == {
        "synthetic-paper-METR-LA": 207, "synthetic-paper-PEMS-BAY": 325, "synthetic-paper-Chengdu": 524
    }
    assert all(s.kind == "synthetic" for s in sources)
    assert set(SYNTHETIC_PAPER_CITIES) <= set(TASKS)


def test_bad_inputs_raise_one_data_error(tmp_path):
    with pytest.raises(DataError, match="unknown paper city 'Paris'"):
        synthetic_paper_spec("Paris")
    with pytest.raises(DataError, match="TSJT_SHARED_DATASETS"):
        synthetic_paper_city("Chengdu", shared_root=tmp_path, days=2)
    with pytest.raises(DataError, match="seed"):
        synthetic_paper_city("Chengdu", seed=-1, days=2)
