"""The baseline registry: presets per budget, the shared fine-tuning budget, one-line refusals."""
import pytest

from baselines.registry import ANY_BACKBONE, baseline, list_baselines, register_baseline
from baselines.reptile import ReptileConfig
from tsjt_basicts.config import BUDGETS, backbone_widths
from tsjt_basicts.errors import ConfigError


def test_every_baseline_registers_itself_and_builds_under_every_budget():
    names = list_baselines()
    assert {"HA", "ARIMA", "Reptile", "ST-GFSL", "TPB", "AdaRNN", "DASTNet", "TransGTR", "STGP", "GPD", "TSJT-noTSB"} <= set(names)
    for name in names:
        spec = baseline(name)
        backbone = (spec.takes() or ["-"])[0]
        for budget in BUDGETS:
            settings = spec.settings(backbone, budget)
            assert (settings is None) == (spec.config is None)


def test_a_trained_baseline_fine_tunes_for_the_budget_s_steps_and_batch():
    for budget, chosen in BUDGETS.items():
        settings = baseline("Reptile").settings("GWN", budget)
        assert (settings.finetune_steps, settings.batch_size, settings.eval_every) == (
            chosen.steps, chosen.target_batch, chosen.steps_per_epoch)
        assert settings.backbone_config == backbone_widths("GWN", budget)
    assert baseline("Reptile").settings("GWN", "smoke").meta_iterations == 3  # the smoke preset


def test_refusals_name_the_fix():
    with pytest.raises(ConfigError, match="unknown baseline 'Reptil'; known baselines: .*Reptile"):
        baseline("Reptil")
    with pytest.raises(ConfigError, match="HA takes no backbone; remove backbone='GWN'"):
        baseline("HA").settings("GWN", "cpu")
    with pytest.raises(ConfigError, match="unknown backbone 'DCRNN' for ST-GFSL; it takes one of GRU, GWN"):
        baseline("ST-GFSL").settings("DCRNN", "cpu")
    with pytest.raises(ConfigError, match="unknown budget 'fast'"):
        baseline("TPB").settings("GWN", "fast")


def test_registration_refuses_duplicates_and_incomplete_presets():
    with pytest.raises(ValueError, match="already registered"):
        register_baseline("HA")(lambda *a, **k: {})
    with pytest.raises(ValueError, match="missing \\['smoke'\\]"):
        register_baseline("Reptile2", ReptileConfig, ANY_BACKBONE, {"paper": {}, "cpu": {}})(lambda *a, **k: {})
    with pytest.raises(ValueError, match="sets \\['inner_stepz'\\]"):
        register_baseline("Reptile3", ReptileConfig, ANY_BACKBONE,
                          {"paper": {}, "cpu": {}, "smoke": {"inner_stepz": 1}})(lambda *a, **k: {})
    assert "Reptile2" not in list_baselines() and "Reptile3" not in list_baselines()
