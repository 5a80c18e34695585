"""TSJT "w/o TSB" as the paper defines it (Fig. 3): TSJT's model, the NPM in front of the backbone,
trained across cities with Reptile instead of Target-Skewed Backward.

The paper's ablation replaces TSB by a meta-learning scheme; Reptile (Nichol et al., 2018) is the
one this project has (:mod:`baselines.reptile`): meta-training over the source cities, then
fine-tuning on the target's few-shot windows, picked on the validation days. The model is
exactly TSJT's (:class:`~tsjt_basicts.npm.NodePromptedModel`: prompt bank of K = half the target's
nodes, X~ = [X || P], A_K's support to the backbone), so the difference to ``TSJT-paper`` is the
training scheme alone. (``TSJT-sum``, a gradient method, is the other reading: TSB's projection
left out, source and target gradients summed at the paper's ratio.)

Deviations: Reptile's (see :mod:`baselines.reptile`); the paper does not say which meta-learner
its ablation used.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from baselines.checks import AT_LEAST_1, NON_NEGATIVE, setting
from baselines.cli import parser, protocol_options, trained_main
from baselines.registry import ANY_BACKBONE, register_baseline
from baselines.reptile import PRESETS, ReptileConfig, run_reptile
from tsjt_basicts.data.city import City
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.npm import NPMConfig, default_num_prompts

METHOD = "TSJT-noTSB"


@dataclass
class NPMReptileConfig(ReptileConfig):
    """Reptile's settings plus the NPM's bank (TSJT's defaults)."""

    num_prompts: int = setting(0, "K, prompts in the bank (0: half the target's nodes, as TSJT)", NON_NEGATIVE)
    prompt_dim: int = setting(16, "D', size of the prompts (TSJT's default)", AT_LEAST_1)

    def npm_for(self, target: City) -> NPMConfig:
        """The NPM of TSJT for ``target``."""
        return NPMConfig(num_prompts=self.num_prompts or default_num_prompts(target.num_nodes), prompt_dim=self.prompt_dim)


@register_baseline(METHOD, NPMReptileConfig, backbones=ANY_BACKBONE, presets=PRESETS)
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: NPMReptileConfig | None = None,
    device: str = "cpu",
) -> dict:
    """TSJT's model trained with Reptile on ``task``; writes ``<out_root>/TSJT-noTSB_<backbone>/<task>/...``."""
    config = config or NPMReptileConfig()
    return run_reptile(METHOD, task, seed, protocol, out_root, data_root, config, device, config.npm_for)


def main(argv: list[str] | None = None) -> int:
    cli = parser(METHOD, trained=True)
    cli.prog = "python -m baselines.npm_reptile"
    cli.add_argument("--backbone", default="GWN", help="registered backbone name")
    return trained_main(cli, argv, run, lambda args: NPMReptileConfig(backbone=args.backbone, **protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
