import numpy as np
import pytest

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.formats.generic import save_generic
from tsjt_basicts.data.split import check_sources
from tsjt_basicts.data.tasks import (
    PAPER_CITIES,
    REAL_CITIES,
    TASKS,
    load_city,
    load_task,
    paper_graph_file,
    shared_datasets_root,
)

SHARED = shared_datasets_root()
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared datasets not at {SHARED}")


@needs_shared
@pytest.mark.parametrize(
    "city, nodes, nonzeros",
    [("METR-LA", 207, 1722), ("PEMS-BAY", 325, 2694), ("Chengdu", 524, 1120), ("Shenzhen", 627, 4845)],
)
def test_paper_graphs_match_the_published_shapes(city, nodes, nonzeros):
    graph = np.load(paper_graph_file(city))
    assert graph.shape == (nodes, nodes) and np.count_nonzero(graph) == nonzeros


@needs_shared
@pytest.mark.parametrize(
    "task, target, nodes, sources",
    [
        ("metro", "hangzhou-metro", 80, {"beijing-metro": 276}),
        ("la-speed", "los-angeles", 207, {"melbourne": 104, "beijing-metro": 276, "montevideo": 675}),
        ("melbourne-volume", "melbourne", 104, {"los-angeles": 207, "beijing-metro": 276, "montevideo": 675}),
    ],
)
def test_real_tasks_load_their_cities(task, target, nodes, sources):
    city, pool = load_task(task)
    assert (city.name, city.num_nodes, city.kind) == (target, nodes, "real")
    assert {s.name: s.num_nodes for s in pool} == sources


@needs_shared
def test_real_cities_follow_their_conventions():
    assert load_city("los-angeles").zero_is_missing and not load_city("melbourne").zero_is_missing
    assert load_city("hangzhou-metro").graph_source == "correlation"  # no graph given, no coordinates
    montevideo = load_city("montevideo")
    assert montevideo.graph_source == "gaussian-kernel" and np.count_nonzero(montevideo.adjacency) == 690


def test_la_week_and_metr_la_name_each_other():
    assert "los-angeles" in PAPER_CITIES["METR-LA"].same_sensors_as
    assert "METR-LA" in REAL_CITIES["los-angeles"].same_sensors_as
    assert all("los-angeles" not in TASKS[city].sources for city in PAPER_CITIES)


@needs_shared
def test_los_angeles_may_not_be_a_source_for_metr_la(tmp_path):
    fake = City("METR-LA", np.ones((288 * 7, 207), np.float32), np.eye(207), 5, 288)
    save_generic(fake, tmp_path / "METR-LA")
    metr_la, los_angeles = load_city("METR-LA", data_root=tmp_path), load_city("los-angeles")
    with pytest.raises(DataError, match="holds data of target"):
        check_sources(metr_la, [los_angeles])
    with pytest.raises(DataError, match="holds data of target"):
        check_sources(los_angeles, [metr_la])


def test_a_missing_paper_series_says_what_to_obtain_and_how(tmp_path):
    with pytest.raises(DataError, match=r"metr-la/dataset.npy .* or metr-la.h5 .*prepare --city METR-LA.*--verify"):
        load_task("METR-LA", data_root=tmp_path)


def test_unknown_names_list_the_known_ones(tmp_path):
    with pytest.raises(DataError, match="known tasks: metro, la-speed, melbourne-volume, METR-LA"):
        load_task("metr")
    with pytest.raises(DataError, match="known cities are METR-LA, PEMS-BAY, Chengdu, Shenzhen, beijing-metro"):
        load_city("atlantis", data_root=tmp_path)
