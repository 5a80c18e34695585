"""Every file in configs/ loads and names a known task, method, backbone and budget."""
import inspect
from pathlib import Path

import pytest

from run import load_config
from tsjt_basicts.backbones import backbone_class
from tsjt_basicts.config import BUDGETS, METHODS, experiment_config
from tsjt_basicts.data.tasks import TASKS
from tsjt_basicts.suite import Entry, baseline_settings

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.py"))


def file_name(method: str, backbone: str, task: str) -> str:
    """``<Method>[_<Backbone>]_<task>``, the synthetic task spelled ``Synthetic``."""
    return "_".join([method, *([] if backbone == "-" else [backbone]), "Synthetic" if task == "synthetic" else task])


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_names_known_settings_that_match_its_file_name(path):
    kind, spec = load_config(str(path))
    assert spec["task"] in TASKS
    backbone = spec.get("backbone", "-")
    if kind == "EXPERIMENT":
        assert set(spec) <= set(inspect.signature(experiment_config).parameters)
        assert spec["method"] in METHODS
        backbone_class(backbone)  # an unknown name raises
    else:
        entry = Entry(spec["method"], backbone)
        assert spec["budget"] in BUDGETS
        baseline_settings(entry, spec["budget"])  # an unknown method or backbone raises
    assert path.stem == file_name(spec["method"], backbone, spec["task"])


@pytest.mark.parametrize("suite", ["table2", "npm", "transfer"])
def test_there_is_a_config_per_suite_method_and_real_or_synthetic_task(suite):
    from tsjt_basicts.suite import SUITES

    entries, tasks = SUITES[suite]
    stems = {path.stem for path in CONFIGS}
    for entry in entries:
        for task in tasks:
            assert file_name(entry.method, entry.backbone, task) in stems


def test_one_results_folder_spelled_two_ways_is_one_run_identity(tmp_path, monkeypatch):
    from tsjt_basicts.config import experiment_config

    monkeypatch.chdir(tmp_path)
    relative = experiment_config("synthetic", method="TargetOnly", ckpt_root="checkpoints/suite")
    absolute = experiment_config("synthetic", method="TargetOnly", ckpt_root=str(tmp_path / "checkpoints" / "suite"))
    dotted = experiment_config("synthetic", method="TargetOnly", ckpt_root="./checkpoints/../checkpoints/suite")
    assert relative.md5 == absolute.md5 == dotted.md5 and relative.ckpt_save_dir == absolute.ckpt_save_dir


def test_a_gpu_runs_loader_pins_its_batches_and_a_cpu_runs_does_not():
    from tsjt_basicts.config import experiment_config

    cpu, gpu = (experiment_config("synthetic", method="TSJT-paper", gpus=gpus) for gpus in (None, "0"))
    assert (cpu.train_data_pin_memory, gpu.train_data_pin_memory) == (False, True)
