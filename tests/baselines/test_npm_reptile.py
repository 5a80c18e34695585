"""TSJT-noTSB, the paper's "w/o TSB": TSJT's NPM model trained with Reptile."""
import json
import math

import pytest

from baselines import reptile
from baselines.npm_reptile import NPMReptileConfig, run
from tsjt_basicts.data.tasks import load_task
from tsjt_basicts.npm import NodePromptedModel

TINY_GWN = {"residual_channels": 8, "dilation_channels": 8, "skip_channels": 16, "end_channels": 16, "blocks": 2}


def test_the_bank_is_tsjt_s_half_the_target_s_nodes_unless_given():
    target, _ = load_task("synthetic")
    assert NPMReptileConfig().npm_for(target).num_prompts == target.num_nodes // 2
    assert NPMReptileConfig(num_prompts=7).npm_for(target).num_prompts == 7


def test_it_trains_the_npm_model_with_reptile_end_to_end(tmp_path, monkeypatch):
    built = []
    wrap = reptile.wrap_with_npm
    monkeypatch.setattr(reptile, "wrap_with_npm", lambda *a, **k: built.append(wrap(*a, **k)) or built[-1])
    config = NPMReptileConfig(backbone_config=TINY_GWN, meta_iterations=2, inner_steps=1, batch_size=8,
                              finetune_steps=4, eval_every=2, prompt_dim=4)
    record = run("synthetic", seed=0, out_root=str(tmp_path), config=config)
    model = built[0]
    assert isinstance(model, NodePromptedModel) and model.encoder is not None and model.uses_prompt_graph
    assert record["method"] == "TSJT-noTSB" and all(math.isfinite(v) for v in record["metrics"]["avg"].values())
    path = next(tmp_path.glob("TSJT-noTSB_GWN/synthetic/strict_seed0/*/test_metrics.json"))
    assert json.loads(path.read_text())["compute"]["source_steps"] == 2


def test_reptile_itself_keeps_the_bare_backbone(tmp_path, monkeypatch):
    built = []
    wrap = reptile.wrap_with_npm
    monkeypatch.setattr(reptile, "wrap_with_npm", lambda *a, **k: built.append(wrap(*a, **k)) or built[-1])
    config = reptile.ReptileConfig(backbone_config=TINY_GWN, meta_iterations=1, inner_steps=1, batch_size=8,
                                   finetune_steps=2, eval_every=2)
    reptile.run("synthetic", seed=0, out_root=str(tmp_path), config=config)
    assert built[0].encoder is None and not built[0].uses_prompt_graph


@pytest.mark.parametrize("setting", [{"num_prompts": -1}, {"prompt_dim": 0}])
def test_bad_npm_settings_are_one_line(setting):
    with pytest.raises(ValueError, match="NPMReptileConfig"):
        NPMReptileConfig(**setting)
