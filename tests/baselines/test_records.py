"""A baseline's result file: its folder covers every setting, and nothing already there is lost."""
import json
import os
import socket
from dataclasses import replace

import pytest

from baselines import ha
from baselines.common import StatisticalConfig, baseline_result_path
from baselines.reptile import ReptileConfig
from baselines.reptile import run as run_reptile
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.formats.generic import save_generic
from tsjt_basicts.data.synthetic import synthetic_cities
from tsjt_basicts.errors import UserError

TINY_GWN = {"residual_channels": 4, "dilation_channels": 4, "skip_channels": 8, "end_channels": 8, "blocks": 1}


def tiny_reptile(steps: int) -> ReptileConfig:
    """A Reptile run of seconds; ``steps`` target fine-tuning steps stand for a budget."""
    return ReptileConfig(backbone_config=TINY_GWN, meta_iterations=1, inner_steps=1, batch_size=4,
                         finetune_steps=steps, eval_every=steps)


def test_the_digest_covers_every_setting_and_none_means_the_statistical_defaults(tmp_path):
    root = str(tmp_path)
    base = baseline_result_path("Reptile", "GWN", "synthetic", 0, root, tiny_reptile(2))
    assert base == baseline_result_path("Reptile", "GWN", "synthetic", 0, root, tiny_reptile(2))
    others = [
        baseline_result_path("Reptile", "GWN", "synthetic", 0, root, tiny_reptile(4)),
        baseline_result_path("Reptile", "GWN", "synthetic", 0, root, ReptileConfig()),
        baseline_result_path("Reptile", "GWN", "synthetic", 1, root, tiny_reptile(2)),
        baseline_result_path("Reptile", "GWN", "synthetic", 0, root, tiny_reptile(2), protocol="stgfsl"),
        baseline_result_path("Reptile", "GWN", "metro", 0, root, tiny_reptile(2)),
    ]
    assert len({base, *others}) == 6
    assert base.parent.parent == tmp_path / "Reptile_GWN" / "synthetic" / "strict_seed0"
    assert base.name == "test_metrics.json" and len(base.parent.name) == 12
    default = baseline_result_path("HA", "-", "synthetic", 0, root, None)
    assert default == baseline_result_path("HA", "-", "synthetic", 0, root, StatisticalConfig())
    assert default != baseline_result_path("HA", "-", "synthetic", 0, root, StatisticalConfig(target_days=2.0))
    assert default.parent.parent == tmp_path / "HA" / "synthetic" / "strict_seed0"


def test_two_budgets_give_two_files_and_the_first_is_kept(tmp_path):
    first = run_reptile("synthetic", out_root=str(tmp_path), config=tiny_reptile(2))
    first_path = baseline_result_path("Reptile", "GWN", "synthetic", 0, str(tmp_path), tiny_reptile(2))
    written = first_path.read_text()
    second = run_reptile("synthetic", out_root=str(tmp_path), config=tiny_reptile(4))
    second_path = baseline_result_path("Reptile", "GWN", "synthetic", 0, str(tmp_path), tiny_reptile(4))
    assert first_path != second_path and first_path.read_text() == written  # untouched by the second budget
    assert json.loads(second_path.read_text()) == json.loads(json.dumps(second))
    assert (first["config"]["finetune_steps"], second["config"]["finetune_steps"]) == (2, 4)
    assert first["compute"]["target_steps"] == 2 and second["compute"]["target_steps"] == 4
    assert first["settings_digest"] == first_path.parent.name != second["settings_digest"]
    assert first["data_digest"] == second["data_digest"]


def test_the_statistical_baselines_record_their_settings(tmp_path):
    record = ha.run("synthetic", seed=2, out_root=str(tmp_path), target_days=2.0)
    path = baseline_result_path("HA", "-", "synthetic", 2, str(tmp_path), StatisticalConfig(target_days=2.0))
    assert json.loads(path.read_text()) == record
    assert record["config"] == {"target_days": 2.0, "data_seed": 0} and record["target_days"] == 2.0
    assert record["settings_digest"] == path.parent.name and len(record["data_digest"]) == 16


def test_a_file_of_other_settings_or_data_is_never_overwritten(tmp_path):
    record = ha.run("synthetic", out_root=str(tmp_path))
    path = baseline_result_path("HA", "-", "synthetic", 0, str(tmp_path), None)
    ha.run("synthetic", out_root=str(tmp_path))  # the same settings and data: the same run again, replaced
    for key, match in (("data_digest", "other data"), ("settings_digest", "other settings")):
        held = json.dumps({**record, key: "0123"})
        path.write_text(held)
        with pytest.raises(DataError, match=match) as refused:
            ha.run("synthetic", out_root=str(tmp_path))
        assert "\n" not in str(refused.value) and str(path) in str(refused.value)
        assert path.read_text() == held
    path.write_text('{"method": "HA", "metr')  # cut off
    with pytest.raises(DataError, match="unreadable"):
        ha.run("synthetic", out_root=str(tmp_path))
    assert path.read_text() == '{"method": "HA", "metr'


def test_a_second_run_of_one_config_at_once_is_refused_and_leaves_no_folder(tmp_path):
    path = baseline_result_path("HA", "-", "synthetic", 0, str(tmp_path), None)
    path.parent.mkdir(parents=True)
    (path.parent / "run.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")  # a live run holds it
    with pytest.raises(UserError, match="is running this config"):
        ha.run("synthetic", out_root=str(tmp_path))
    assert not path.exists()
    (path.parent / "run.lock").unlink()
    with pytest.raises(DataError, match="shorter than one window"):
        ha.run("synthetic", out_root=str(tmp_path / "other"), target_days=0.05)
    assert not (tmp_path / "other").exists()  # a refused run makes no folder


def test_a_users_task_is_filed_under_its_label_and_its_whole_spec_makes_the_digest(tmp_path):
    root = tmp_path / "data"
    for name, city in zip(("my-city", "other-a", "other-b"), synthetic_cities(0)):
        save_generic(replace(city, name=name), root / name)
    spec = dict(name="mine", target="my-city", sources=["other-a"], data_root=str(root))
    record = ha.run(spec, out_root=str(tmp_path / "out"))
    path = baseline_result_path("HA", "-", spec, 0, str(tmp_path / "out"), None)
    assert path.parent.parent == tmp_path / "out" / "HA" / "mine" / "strict_seed0" and path.is_file()
    assert record["task"] == "mine" and record["task_spec"]["sources"] == ["other-a"]
    wider = baseline_result_path("HA", "-", {**spec, "sources": ["other-a", "other-b"]}, 0, str(tmp_path / "out"), None)
    assert wider.parent.parent == path.parent.parent and wider != path
