"""Reptile baseline: the meta update by hand, annealing, a tiny end-to-end run, no test-window training."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from baselines.common import baseline_result_path
from baselines.reptile import ReptileConfig, reptile_update, run, step_size
from tsjt_basicts.data.split import VAL_DAYS, Protocol, split_target
from tsjt_basicts.data.tasks import load_task
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.config import backbone_widths
from tsjt_basicts.suite import Entry, baseline_settings, run_entry

TINY_GWN = {"residual_channels": 8, "dilation_channels": 8, "skip_channels": 16, "end_channels": 16, "blocks": 2}
TINY = ReptileConfig(backbone_config=TINY_GWN, meta_iterations=3, inner_steps=2, batch_size=8, finetune_steps=52,
                     eval_every=26)



def test_meta_update_moves_theta_towards_phi_by_epsilon():
    model = nn.Sequential(nn.Linear(2, 1), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
        model[0].bias.fill_(-1.0)
    theta = {k: v.clone() for k, v in model.state_dict().items()}
    phi = {k: v.clone() for k, v in theta.items()}
    phi["0.weight"] = torch.tensor([[3.0, -2.0]])
    phi["0.bias"] = torch.tensor([1.0])
    phi["1.running_mean"] = torch.tensor([4.0])
    phi["1.num_batches_tracked"] = torch.tensor(7)
    new = reptile_update(theta, phi, 0.25)
    assert torch.equal(new["0.weight"], torch.tensor([[1.5, 1.0]]))  # 1 + .25 (3 - 1), 2 + .25 (-2 - 2)
    assert torch.equal(new["0.bias"], torch.tensor([-0.5]))
    assert torch.equal(new["1.running_mean"], torch.tensor([1.0]))
    assert torch.equal(new["1.running_var"], theta["1.running_var"])  # unchanged where phi == theta
    assert new["1.num_batches_tracked"].item() == 7  # integer buffers take the adapted value
    assert torch.equal(model.state_dict()["0.weight"], torch.tensor([[1.0, 2.0]]))  # inputs untouched


def test_step_size_is_linearly_annealed_to_zero():
    annealed = ReptileConfig(meta_iterations=4, meta_step_size=0.8)
    assert [step_size(annealed, i) for i in range(4)] == pytest.approx([0.8, 0.6, 0.4, 0.2])
    constant = ReptileConfig(meta_iterations=4, meta_step_size=0.8, anneal=False)
    assert [step_size(constant, i) for i in range(4)] == pytest.approx([0.8] * 4)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One tiny run on the synthetic task, every window batch it reads recorded by a spy."""
    reads = []
    original = CityWindows.batch

    def spy(self, positions):
        reads.append((self.city.name, self.starts[positions].copy(), torch.is_grad_enabled()))
        return original(self, positions)

    out = tmp_path_factory.mktemp("reptile")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CityWindows, "batch", spy)
        record = run("synthetic", seed=3, out_root=str(out), config=TINY)
    return record, reads, out


def test_smoke_run_writes_finite_synthetic_metrics(smoke):
    record, _, out = smoke
    path = baseline_result_path("Reptile", "GWN", "synthetic", 3, str(out), TINY)
    assert json.loads(path.read_text()) == record
    assert path.parent.parent == out / "Reptile_GWN" / "synthetic" / "strict_seed3"  # then the settings' digest
    assert record["data_kind"] == "synthetic" and record["protocol"] == "strict"
    assert {k: record[k] for k in ("method", "backbone", "task", "seed", "target_days")} == {
        "method": "Reptile", "backbone": "GWN", "task": "synthetic", "seed": 3, "target_days": 3.0,
    }
    assert all(math.isfinite(v) for v in record["metrics"]["avg"].values())


@pytest.mark.parametrize("backbone", ["STGCN", "DCRNN"])
def test_reptile_meta_trains_the_other_registered_backbones(backbone, tmp_path):
    entry = Entry("Reptile", backbone)
    run_entry(entry, "synthetic", seed=0, budget="smoke", out_root=str(tmp_path))
    path = baseline_result_path("Reptile", backbone, "synthetic", 0, str(tmp_path), baseline_settings(entry, "smoke"))
    record = json.loads(path.read_text())
    widths = json.loads(json.dumps(backbone_widths(backbone, "smoke")))  # as JSON stores them
    assert record["backbone"] == backbone and record["config"]["backbone_config"] == widths
    assert all(math.isfinite(v) for v in record["metrics"]["avg"].values())


def test_training_reads_only_few_shot_target_windows(smoke):
    record, reads, _ = smoke
    protocol = Protocol(val_days=VAL_DAYS)
    target, sources = load_task("synthetic", protocol=protocol)
    split = split_target(target, protocol)
    trained = np.concatenate([s for city, s, grad in reads if city == target.name and grad])
    assert trained.min() >= split.train.start and trained.max() + protocol.window_len <= split.train.stop
    assert len(np.unique(trained)) == len(split.train) - protocol.window_len + 1  # 52 steps of 8 cover every window
    scored = np.concatenate([s for city, s, grad in reads if city == target.name and not grad])
    validated = scored[scored < split.test.start]  # the step is picked on the last half few-shot day
    assert validated.min() >= split.val.start and validated.max() + protocol.window_len <= split.val.stop
    assert len(scored[scored >= split.test.start]) == record["test_windows"]
    assert record["selection"]["selected_step"] in (26, 52) and record["selection"]["val_MAE"] > 0
    assert {city for city, _, grad in reads if grad} <= {target.name, *(c.name for c in sources)}
    assert any(city != target.name for city, _, _ in reads)  # meta-training saw source cities


def test_same_seed_gives_the_same_result(smoke, tmp_path):
    record, _, _ = smoke
    assert run("synthetic", seed=3, out_root=str(tmp_path), config=TINY)["metrics"] == record["metrics"]


def test_unknown_backbone_or_field_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown backbone 'NoSuchNet'.*GWN"):
        ReptileConfig(backbone="NoSuchNet")
    with pytest.raises(ConfigError, match="no config field"):
        ReptileConfig(backbone_config={"hidden": 8})
    with pytest.raises(ConfigError, match="inner_optimizer"):
        ReptileConfig(inner_optimizer="rmsprop")
