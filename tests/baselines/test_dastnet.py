"""DASTNet baseline: gradient reversal, name-keyed per-city modules, one-line refusals, smoke runs."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from baselines.dastnet.baseline import DASTNetConfig, main, run
from baselines.dastnet.model import CityNodes, DASTNetModel, mean_of_neighbours, module_key, reverse_gradient
from baselines.dastnet.model import reversal_scale
from baselines.registry import baseline
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.formats.generic import save_generic
from tsjt_basicts.data.synthetic import synthetic_cities
from tsjt_basicts.errors import ConfigError

SMOKE = baseline("DASTNet").settings("-", "smoke")


def finite_metrics(out_root) -> dict:
    """The avg metrics of the single test_metrics.json under ``out_root``, checked finite."""
    [path] = list(out_root.rglob("test_metrics.json"))
    record = json.loads(path.read_text())
    assert record["method"] == "DASTNet" and record["compute"]["source_steps"] == SMOKE.pretrain_steps
    for name in ("MAE", "RMSE"):
        assert math.isfinite(record["metrics"]["avg"][name]) and record["metrics"]["avg"][name] > 0
    return record


def test_smoke_run_on_the_synthetic_task_writes_finite_metrics(tmp_path):
    returned = run("synthetic", seed=0, out_root=str(tmp_path), config=SMOKE)
    record = finite_metrics(tmp_path)
    assert record["metrics"] == returned["metrics"] and record["target"] == "synthetic-shenzhen"
    assert record["selection"]["selected_step"] in (3, 6)  # validated every 3 of 6 steps


def test_gradient_reversal_is_the_identity_forward_and_flips_and_scales_the_gradient():
    inputs = torch.randn(5, 3, requires_grad=True)
    weights = torch.randn(5, 3)
    outputs = reverse_gradient(inputs, 0.3)
    assert torch.equal(outputs, inputs)
    (outputs * weights).sum().backward()
    torch.testing.assert_close(inputs.grad, -0.3 * weights)
    assert reversal_scale(0.0) == 0.0 and 0.99 < reversal_scale(1.0) < 1.0
    assert reversal_scale(0.1) < reversal_scale(0.5)


def test_neighbour_mean_drops_self_loops_and_leaves_isolated_nodes_zero():
    adjacency = np.array([[5.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    expected = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5], [0.0] * 4, [0.0] * 4])
    torch.testing.assert_close(mean_of_neighbours(adjacency), expected)


def nodes(name: str, count: int) -> CityNodes:
    return CityNodes(name, torch.randn(count, 4), mean_of_neighbours(np.ones((count, count))))


def test_per_city_modules_are_keyed_by_name_for_cities_of_any_names_and_sizes():
    names = ["keys", "a.b", "a%2Eb"]  # a ModuleDict attribute, a dot, and the dot's escape
    model = DASTNetModel(names, "x.y", vec_dim=4, hidden_dim=6, embed_dim=5, in_channels=3, output_len=2)
    assert sorted(model.heads) == sorted(module_key(n) for n in [*names, "x.y"])
    assert len({module_key(n) for n in names}) == 3
    for name, count in zip([*names, "x.y"], (3, 7, 2, 4)):
        assert model(torch.randn(2, 5, count, 3), nodes(name, count)).shape == (2, 2, count)
    with pytest.raises(DataError, match="names a city twice"):
        DASTNetModel(["a", "a"], "b", 4, 6, 5, 3, 2)
    with pytest.raises(DataError, match="needs at least 2"):
        nodes("lonely", 1)


def test_a_users_task_with_other_city_names_runs(tmp_path):
    root = tmp_path / "data"
    names = ("my.target", "keys", "other.city")
    for name, city in zip(names, synthetic_cities(0)):
        save_generic(replace(city, name=name), root / name)
    spec = dict(name="renamed", target=names[0], sources=list(names[1:]), data_root=str(root))
    record = run(spec, out_root=str(tmp_path / "out"), config=replace(SMOKE, walks_per_node=2, finetune_steps=3))
    assert finite_metrics(tmp_path / "out") == record and record["target"] == "my.target"


@pytest.mark.parametrize("fields, message", [
    ({"walk_length": 1}, r"^DASTNetConfig.walk_length must be an integer >= 2 \(nodes per node2vec walk\), got 1$"),
    ({"hidden_dim": 0}, r"^DASTNetConfig.hidden_dim must be an integer >= 1 .*got 0$"),
    ({"lr": -1e-3}, r"^DASTNetConfig.lr must be a finite number > 0 .*got -0.001$"),
    ({"domain_weight": float("nan")}, r"^DASTNetConfig.domain_weight must be a finite number >= 0 .*got nan$"),
    ({"target_domain": "yes"}, r"^DASTNetConfig.target_domain must be true or false .*got 'yes'$"),
    ({"pretrain_steps": 2.5}, r"^DASTNetConfig.pretrain_steps must be an integer >= 1 .*got 2.5$"),
    ({"val_days": 3.0}, r"^DASTNetConfig: val_days \(3.0\) must be below target_days \(3.0\); lower val_days$"),
])
def test_bad_settings_end_in_one_config_error_line(fields, message):
    with pytest.raises(ConfigError, match=message) as error:
        DASTNetConfig(**fields)
    assert "\n" not in str(error.value)


def test_command_line_refuses_a_bad_option_or_task_in_one_line(tmp_path, capsys):
    assert main(["--task", "synthetic", "--target-days", "-1", "--out-root", str(tmp_path)]) == 2
    assert main(["--task", "no-such-task", "--out-root", str(tmp_path)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "target_days" in errors[0] and "no-such-task" in errors[1]
    assert not list(tmp_path.rglob("test_metrics.json"))
