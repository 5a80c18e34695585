"""A task as data: specs, task files, user cities in their own data root, copies refused."""
import json
from dataclasses import replace

import numpy as np
import pytest

from tsjt_basicts.config import BUDGETS, Training, experiment_config
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.formats.generic import save_generic
from tsjt_basicts.data.synthetic import synthetic_cities
from tsjt_basicts.data.task_spec import Task
from tsjt_basicts.data.tasks import TASKS, load_task, resolve_task, task_label
from tsjt_basicts.suite import Entry, result_path, run_suite

TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)


@pytest.fixture
def own_cities(tmp_path):
    """Three prepared cities of the user's own names (synthetic series) in ``tmp_path/data``."""
    root = tmp_path / "data"
    for name, city in zip(("my-city", "other-a", "other-b"), synthetic_cities(0)):
        save_generic(replace(city, name=name), root / name)
    return root


def test_a_spec_and_a_task_file_name_the_same_task(own_cities, tmp_path):
    spec = dict(target="my-city", sources=["other-a", "other-b"], data_root=str(own_cities))
    file = tmp_path / "my_task.toml"
    file.write_text('target = "my-city"\nsources = ["other-a", "other-b"]\ndata_root = "data"\n')
    assert resolve_task(spec) == resolve_task(file) == resolve_task(str(file))
    assert task_label(spec) == "my-city-from-other-a+other-b"
    target, sources = load_task(file)
    assert target.name == "my-city" and [c.name for c in sources] == ["other-a", "other-b"]


def test_a_json_task_file_with_a_name(own_cities, tmp_path):
    file = tmp_path / "t.json"
    file.write_text(json.dumps(dict(name="mine", target="my-city", sources=["other-a"], data_root=str(own_cities))))
    assert resolve_task(file) == Task("mine", "my-city", ("other-a",), "", str(own_cities.resolve()))


@pytest.mark.parametrize(
    "spec, says",
    [
        (dict(target="a"), "sources as a non-empty list"),
        (dict(target="a", sources="b"), "sources as a non-empty list"),
        (dict(sources=["b"]), "needs a target"),
        (dict(target="a", sources=["a"]), "cannot be its own source"),
        (dict(target="a", sources=["b", "b"]), "repeats a source"),
        (dict(target="a", sources=["b"], epochs=3), "unknown keys ['epochs']"),
        (dict(name="../x", target="a", sources=["b"]), "cannot name a results folder"),
        (dict(target="北京", sources=["b"]), "made from the target and sources, cannot name a results folder"),
        (dict(target="北京", sources=["b"]), 'name = "my-task" in a task file'),
        (dict(name="metro", target="a", sources=["b"]), "like a built-in task"),
        (dict(name="Metro", target="a", sources=["b"]), "like a built-in task"),
        (dict(target="a", sources=["b"], data_root="/no/such/folder"), "is not a folder"),
        ("no-such-task", "unknown task"),
        ("missing.toml", "not found"),
    ],
)
def test_bad_specs_fail_in_one_line_naming_the_fix(spec, says):
    with pytest.raises(DataError, match=None) as error:
        resolve_task(spec)
    assert says in str(error.value) and "\n" not in str(error.value)


def test_a_broken_task_file_is_named(tmp_path):
    file = tmp_path / "t.toml"
    file.write_text("target = [unclosed")
    with pytest.raises(DataError, match="t.toml is not valid TOML"):
        resolve_task(file)


def test_a_copy_of_the_target_under_another_name_cannot_be_a_source(own_cities):
    target = synthetic_cities(0)[0]
    save_generic(replace(target, name="copy"), own_cities / "copy")
    with pytest.raises(DataError, match="identical to target"):
        load_task(dict(target="my-city", sources=["other-a", "copy"], data_root=str(own_cities)))


def test_a_prepared_city_named_like_a_shared_one_is_refused(own_cities):
    save_generic(replace(synthetic_cities(0)[1], name="melbourne"), own_cities / "melbourne")
    with pytest.raises(DataError, match="named like the shared city 'melbourne'"):
        load_task(dict(target="my-city", sources=["melbourne"], data_root=str(own_cities)))


def test_a_run_on_a_spec_carries_the_spec_and_its_data_into_its_identity(own_cities, tmp_path):
    spec = dict(target="my-city", sources=["other-a"], data_root=str(own_cities))
    make = lambda: experiment_config(spec, method="TSJT-paper", budget=BUDGETS["smoke"], training=Training(),
                                     backbone_config=TINY_GWN, ckpt_root=str(tmp_path / "ckpt"))
    before = make()
    assert before.dataset_params["task_spec"]["target"] == "my-city" and "my-city-from-other-a" in before.ckpt_save_dir
    city = synthetic_cities(0)[0]
    series = city.series.copy()
    series[100, 0, 0] += 1.0  # the user re-prepares the city with new data
    save_generic(replace(city, name="my-city", series=series), own_cities / "my-city")
    from tsjt_basicts.engine.dataset import cached_task

    cached_task.cache_clear()
    assert make().md5 != before.md5  # a new run, not a resume of the old one


def test_registered_tasks_keep_their_names_and_travel_by_name():
    assert all(resolve_task(name) is task for name, task in TASKS.items())
    cfg = experiment_config("synthetic", method="TargetOnly", budget=BUDGETS["smoke"], backbone_config=TINY_GWN)
    assert cfg.dataset_params["task_spec"] is None and cfg.dataset_params["dataset_name"] == "synthetic"


@pytest.mark.slow
def test_the_suite_runs_a_task_file_in_spawned_processes(own_cities, tmp_path):
    file = tmp_path / "my_task.toml"
    file.write_text(f'name = "mine"\ntarget = "my-city"\nsources = ["other-a"]\ndata_root = "{own_cities}"\n')
    entries = [Entry("HA", "-"), Entry("TargetOnly", "GWN")]
    out = str(tmp_path / "suite")
    assert run_suite("table2", 1, "smoke", out, tasks=[str(file)], methods=[e.folder for e in entries], jobs=2) == []
    for entry in entries:
        record = json.loads(result_path(entry, file, 0, "smoke", out).read_text())
        assert record["task"] == "mine" and record["target"] == "my-city"


@pytest.mark.parametrize(
    "blank, says",
    [(slice(0, 400), "few-shot training range"), (slice(-500, None), "test range"), (slice(None), "few-shot")],
)
def test_a_target_range_without_data_is_refused_before_any_work(own_cities, tmp_path, blank, says):
    city = synthetic_cities(0)[0]
    series = city.series.copy()
    series[blank] = np.nan
    save_generic(replace(city, name="my-city", series=series), own_cities / "my-city")
    with pytest.raises(DataError, match=says):
        experiment_config(dict(target="my-city", sources=["other-a"], data_root=str(own_cities)),
                          budget=BUDGETS["smoke"], method="TSJT-paper", ckpt_root=str(tmp_path / "ckpt"))
    assert not (tmp_path / "ckpt").exists()


def test_a_baseline_config_takes_a_spec(own_cities, tmp_path, capsys):
    import run

    config = tmp_path / "ha.py"
    config.write_text(f"BASELINE = dict(method='HA', budget='smoke', out_root={str(tmp_path / 'out')!r}, task=dict("
                      f"name='mine', target='my-city', sources=['other-a'], data_root={str(own_cities)!r}))\n")
    assert run.main(["-c", str(config)]) == 0
    [path] = (tmp_path / "out").rglob("test_metrics.json")
    record = json.loads(path.read_text())
    assert record["task"] == "mine" and record["target"] == "my-city" and "HA/mine/" in str(path)
