"""AdaRNN baseline: TDC's split, TDM's distances and weights, node sequences, settings, a smoke run."""
import json

import numpy as np
import pytest
import torch

from baselines.adarnn.method import AdaRNNConfig, domain_sequences, run
from baselines.adarnn.model import NodeGRU
from baselines.adarnn.tdc import Domain, split_periods, transfer_domains
from baselines.adarnn.tdm import DISTANCES, BoostedWeights, step_distances, tdm_loss
from baselines.common import baseline_result_path, transfer_data
from baselines.registry import baseline
from tsjt_basicts.errors import ConfigError


@pytest.fixture(scope="module")
def synthetic():
    return transfer_data("AdaRNN", "synthetic", "strict", 3.0, 0, None, "cpu", 0.5)


def noise(rows: int, generator: torch.Generator, scale: float = 0.1) -> torch.Tensor:
    return scale * torch.randn(rows, 3, generator=generator)


CHANGES = {  # what changes at step 40 of 100, for each distance: the level, the spread, the direction
    "mmd": (lambda n, g: noise(n, g), lambda n, g: 10.0 + noise(n, g)),
    "coral": (lambda n, g: noise(n, g), lambda n, g: noise(n, g, 3.0)),
    "cosine": (lambda n, g: torch.tensor([0.0, 1.0, 0.0]) + noise(n, g, 0.05),
               lambda n, g: torch.tensor([1.0, 0.0, 0.0]) + noise(n, g, 0.05)),
}


@pytest.mark.parametrize("distance", sorted(CHANGES))
def test_tdc_cuts_a_series_at_its_one_obvious_change(distance):
    generator = torch.Generator().manual_seed(0)
    before, after = CHANGES[distance]
    series = torch.cat([before(40, generator), after(60, generator)])
    assert split_periods(series, 2, 10, DISTANCES[distance]) == [0, 40, 100]


def test_tdc_periods_cover_the_range_and_domains_hold_only_their_windows(synthetic):
    series = torch.randn(97, 2)
    bounds = split_periods(series, 4, 10, DISTANCES["mmd"])
    assert bounds[0] == 0 and bounds[-1] == 97 and len(bounds) == 5 and bounds == sorted(set(bounds))
    domains = transfer_domains(synthetic.sources, synthetic.target_train, 2, 10, DISTANCES["mmd"])
    assert len(domains) == 2 * len(synthetic.sources) + 1
    window_len = synthetic.protocol.window_len
    for domain in domains[:-1]:
        start, stop = map(int, domain.name.rsplit("[", 1)[1].rstrip("]").split(":"))
        starts = domain.windows.starts[domain.positions]
        assert (starts >= start).all() and (starts + window_len <= stop).all()
    assert domains[-1].windows is synthetic.target_train and len(domains[-1].positions) == len(synthetic.target_train)


@pytest.mark.parametrize("distance", ["mmd", "coral", "cosine"])
def test_tdm_loss_is_zero_for_identical_domains_and_positive_otherwise(distance):
    generator = torch.Generator().manual_seed(1)
    states = [torch.randn(20, 12, 8, generator=generator) + 1.0 for _ in range(2)]  # two layers
    weights = torch.full((2, 12), 1 / 12)
    same = step_distances([torch.cat([h, h]) for h in states], [20, 20], DISTANCES[distance])
    assert same.shape == (2, 12)
    assert tdm_loss(same, weights).item() == pytest.approx(0.0, abs=1e-6)
    other = [torch.cat([h, 3.0 * h.flip(-1) + 2.0]) for h in states]
    differing = step_distances(other, [20, 20], DISTANCES[distance])
    assert (differing > 1e-4).all() and tdm_loss(differing, weights).item() > 0


def test_boosting_raises_the_weight_of_steps_whose_distance_grew():
    weights = BoostedWeights(layers=1, steps=4)
    weights.add(torch.tensor([[1.0, 1.0, 1.0, 1.0]]))
    weights.end_epoch()  # first epoch: weights stay uniform
    torch.testing.assert_close(weights.weights, torch.full((1, 4), 0.25))
    weights.add(torch.tensor([[2.0, 0.5, 1.0, 0.5]]))
    weights.end_epoch()
    assert weights.weights[0, 0] > 0.25 > weights.weights[0, 1]
    assert weights.weights[0, 1] == weights.weights[0, 2] == weights.weights[0, 3]
    assert weights.weights.sum().item() == pytest.approx(1.0)


def test_the_gru_is_shared_by_nodes_and_maps_windows_to_horizons():
    torch.manual_seed(0)
    model = NodeGRU(hidden_size=8, layers=2, output_len=6)
    inputs = torch.randn(3, 12, 5, 3)
    order = torch.tensor([4, 2, 0, 1, 3])
    out = model(inputs)
    assert out.shape == (3, 6, 5)
    torch.testing.assert_close(model(inputs[:, :, order]), out[:, :, order])


def test_domain_sequences_are_whole_node_windows_with_their_own_targets(synthetic):
    windows = synthetic.target_train
    start = 7
    domain = Domain("one window", windows, np.array([start]))
    config = AdaRNNConfig(nodes_per_window=5, windows_per_domain=3)
    sequences = domain_sequences(domain, config, np.random.default_rng(0))
    assert sequences.inputs.shape == (5, 12, 3) and sequences.targets.shape == (5, 6)
    batch = windows.batch(np.array([start]))
    for inputs, targets in zip(sequences.inputs, sequences.targets):
        node = [n for n in range(batch.inputs.shape[2]) if torch.equal(batch.inputs[0, :, n], inputs)]
        assert len(node) >= 1
        expected = windows.scaler.transform(batch.targets[0, :, node[0]]) * batch.mask[0, :, node[0]]
        torch.testing.assert_close(targets, expected.float())


@pytest.mark.parametrize("settings, field", [
    ({"tdm_distance": "kl"}, "tdm_distance"),
    ({"tdc_periods": 11}, "tdc_periods"),
    ({"pretrain_steps": 0}, "pretrain_steps"),
    ({"nodes_per_window": 1}, "nodes_per_window"),
    ({"tdm_weight": -1.0}, "tdm_weight"),
    ({"val_days": 3.0}, "val_days"),
    ({"hidden_size": 8.5}, "hidden_size"),
])
def test_bad_settings_end_in_one_line_naming_the_field(settings, field):
    with pytest.raises(ConfigError) as error:
        AdaRNNConfig(**settings)
    assert field in str(error.value) and "\n" not in str(error.value)


def test_presets_set_the_budget_and_adarnn_takes_no_backbone():
    cpu = baseline("AdaRNN").settings("-", "cpu")
    assert (cpu.finetune_steps, cpu.batch_size, cpu.pretrain_steps) == (600, 16, 1500)
    with pytest.raises(ConfigError, match="AdaRNN takes no backbone"):
        baseline("AdaRNN").settings("GWN", "cpu")


def test_smoke_run_on_synthetic_writes_finite_metrics(tmp_path):
    config = baseline("AdaRNN").settings("-", "smoke")
    record = run("synthetic", seed=0, out_root=str(tmp_path), config=config)
    written = json.loads(baseline_result_path("AdaRNN", "-", "synthetic", 0, str(tmp_path), config).read_text())
    assert written["method"] == "AdaRNN" and written["data_kind"] == "synthetic" and written["seed"] == 0
    assert all(np.isfinite(v) for v in written["metrics"]["avg"].values())
    assert written["compute"]["source_steps"] == config.pretrain_steps
    assert record["metrics"]["avg"] == written["metrics"]["avg"]
