"""Every file in configs/ loads and names a known task, method, backbone and budget."""
import inspect
from pathlib import Path

import pytest

from run import load_config
from tsjt_basicts.backbones import backbone_class
from tsjt_basicts.config import BUDGETS, METHODS, experiment_config
from tsjt_basicts.data.tasks import TASKS
from tsjt_basicts.suite import Entry, baseline_config, baseline_runner

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_names_known_settings(path):
    kind, spec = load_config(str(path))
    assert spec["task"] in TASKS
    if kind == "EXPERIMENT":
        assert set(spec) <= set(inspect.signature(experiment_config).parameters)
        assert spec["method"] in METHODS
        backbone_class(spec["backbone"])  # an unknown name raises
    else:
        entry = Entry(spec["method"], spec.get("backbone", "-"))
        assert spec["budget"] in BUDGETS and baseline_runner(entry) is not None
        baseline_config(entry, spec["budget"])
    assert path.stem.startswith(spec["method"])


def test_there_is_a_config_per_suite_method_and_real_or_synthetic_task():
    from tsjt_basicts.suite import SUITES

    entries, tasks = SUITES["table2"]
    stems = {path.stem for path in CONFIGS}
    for entry in entries:
        for task in tasks:
            assert f"{entry.folder}_{'Synthetic' if task == 'synthetic' else task}" in stems
