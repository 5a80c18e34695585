import json
import os

import numpy as np
import pytest

import tsjt_basicts.data.prepare as prepare
from tsjt_basicts.data.city import City
from tsjt_basicts.data.formats.stgfsl import save_stgfsl
from tsjt_basicts.data.tasks import load_city


def fake_stgfsl(folder, nodes: int = 5, steps: int = 24 * 6) -> City:
    rng = np.random.default_rng(0)
    city = City("x", rng.uniform(1, 70, (steps, nodes, 2)), np.eye(nodes), 60, 24)
    save_stgfsl(city, folder)
    return city


def run(*argv: str) -> int:
    return prepare.main([str(a) for a in argv])


def test_own_city_from_stgfsl_files_is_prepared_and_loadable(tmp_path):
    city = fake_stgfsl(tmp_path / "in")
    assert (
        run(
            "--city",
            "my-city",
            "--from",
            tmp_path / "in",
            "--interval-minutes",
            60,
            "--start",
            "2020-01-06",
            "--out",
            tmp_path / "out",
        )
        == 0
    )
    loaded = load_city("my-city", data_root=tmp_path / "out")
    np.testing.assert_array_equal(loaded.series[..., 0], city.series[..., 0])
    assert loaded.start_day_of_week == 0 and loaded.zero_is_missing  # ST-GFSL's speed convention
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name != "my-city"]


def test_own_stgfsl_city_needs_an_interval(tmp_path, capsys):
    fake_stgfsl(tmp_path / "in")
    assert run("--city", "my-city", "--from", tmp_path / "in", "--out", tmp_path / "out") == 2
    assert "pass --interval-minutes" in capsys.readouterr().err


def test_paper_city_with_other_files_is_refused_unless_allowed(tmp_path, capsys):
    fake_stgfsl(tmp_path / "bundle" / "metr-la", nodes=207)
    argv = ("--city", "METR-LA", "--from", tmp_path / "bundle", "--out", tmp_path / "out")
    assert run(*argv) == 1
    assert "metr-la/dataset.npy" in capsys.readouterr().err and not (tmp_path / "out" / "METR-LA").exists()
    assert run(*argv, "--verify") == 1
    assert run(*argv, "--allow-digest-mismatch") == 0
    city = load_city("METR-LA", data_root=tmp_path / "out")
    assert city.zero_is_missing and city.start_day_of_week == 3 and "los-angeles" in city.same_sensors_as
    assert json.loads((tmp_path / "out" / "METR-LA" / "meta.json").read_text())["digests_verified"] is False


def test_failed_run_leaves_an_existing_folder_untouched(tmp_path, monkeypatch):
    fake_stgfsl(tmp_path / "in")
    argv = ("--city", "my-city", "--from", tmp_path / "in", "--interval-minutes", 60, "--out", tmp_path / "out")
    assert run(*argv) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out" / "my-city").iterdir()}

    def fail_halfway(city, folder, **kwargs):
        (folder / "data.npz").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(prepare, "save_generic", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        run(*argv)
    monkeypatch.undo()
    rename = os.rename

    def fail_to_swap_in(source, destination):
        if str(source).endswith(".partial"):
            raise OSError("rename refused")
        rename(source, destination)

    monkeypatch.setattr(os, "rename", fail_to_swap_in)
    with pytest.raises(OSError, match="rename refused"):
        run(*argv)
    monkeypatch.undo()
    (tmp_path / "in" / "dataset.npy").write_bytes(b"garbage")
    assert run(*argv) == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "out" / "my-city").iterdir()} == before
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["my-city"]


def test_rerun_replaces_the_folder(tmp_path):
    fake_stgfsl(tmp_path / "in", steps=24 * 6)
    argv = ("--city", "my-city", "--from", tmp_path / "in", "--interval-minutes", 60, "--out", tmp_path / "out")
    assert run(*argv) == 0
    fake_stgfsl(tmp_path / "in", steps=24 * 8)
    assert run(*argv) == 0
    assert load_city("my-city", data_root=tmp_path / "out").num_steps == 24 * 8
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["my-city"]
