"""TransGTR's settings and its registered run.

Jin, Chen & Yang, "Transferable Graph Structure Learning for Graph-based Traffic Forecasting Across
Cities", KDD 2023 (authors' code: github KL4805/TransGTR).

Registered as the baseline ``TransGTR`` (:mod:`baselines.registry`); ``python -m baselines.transgtr``.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from baselines.checks import FineTuneSettings, AT_LEAST_1, NON_NEGATIVE, OPEN_UNIT, POSITIVE, at_least, check_backbone
from baselines.checks import setting
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import TransferData, finetune_and_test, trained_run
from baselines.records import ResultFile
from baselines.long_history import HISTORY_PATCHES, PATCH_LEN
from baselines.progress import phase
from baselines.registry import register_baseline
from baselines.transgtr.model import PatchMAE, ShortFeatureNet, TransGTRForecaster
from baselines.transgtr.training import METHOD, distil, evaluate, finetune, history_positions, pretrain_mae
from baselines.transgtr.training import train_on_sources
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import NUM_INPUT_FEATURES
from tsjt_basicts.errors import ConfigError

logger = logging.getLogger(__name__)
FIXED_BACKBONE_FIELDS = ("in_channels", "input_len", "output_len", "adaptive_graph", "num_nodes")  # set here


@dataclass
class TransGTRConfig(FineTuneSettings):
    """TransGTR settings (defaults: the authors' where they fit; the seed is ``run``'s argument).

    Deviations from the paper / authors' code:
        * All source cities of the task, one per step in turn in every source phase; the authors
          take one source city and hard-code its node count and series length. Nothing is sized by N.
        * Long history: :mod:`baselines.long_history`'s rule, ``history_patches`` (4) patches of
          ``patch_len`` (12) steps ending with the window's input, instead of a week (168 patches)
          or 3 days; only source windows read it (the target never needs one).
        * The teacher is our TSFormer-style masked autoencoder (encoder on visible patches only,
          one-layer decoder with mask tokens, ``mask_ratio`` 0.75, learned position embeddings, no
          day-of-week embedding), ``embed_dim`` 32 / depth 2 by default instead of 96 / 4, trained
          here on the sources (the authors load STEP's pre-trained TSFormer or train one per city).
          Its loss is the masked MAE on z-scored values over masked patches' observed steps.
        * The node feature network (student) is an MLP over the window's 12 input steps (value, time
          of day, day of week), distilled to the teacher's encoding of the last patch (the same
          steps) by mean squared error on the sources only; the authors' student is a TSFormer over
          several days of target history, distilled on source and target with an extra masked
          reconstruction on the target.
        * The graph generator reads each window's own student features (a graph per sample), not
          features averaged over 10 long slices of the city's training data; pairs are scored by a
          bilinear form of node codes (the authors: two strided convolutions and an MLP on
          concatenated pairs, 2 logits). The two-class Gumbel-softmax at temperature 0.5 with the
          straight-through hard sample is drawn as its equivalent logistic-noise form; at test time
          the most likely graph (logit > 0) is used instead of a fresh sample.
        * The sampled graph enters Graph WaveNet as one row-normalised support ((A + I) / row sum)
          beside the road graph's two transition matrices; the authors add the random-walk matrices
          of A and A^T, no self-loops, and add the TSFormer's features to GWN's skip output during
          fine-tuning only (left out here).
        * Degree regulariser: squared gap of the mean degree share to ``target_degree`` / (N - 1)
          (the authors': mean(A)^2, i.e. target 0, the default here). CORAL (``coral_weight`` 1e-3)
          aligns the generator's node codes of a source batch with those of a target batch (inputs
          only); the authors align GWN's spatio-temporal features minus features reconstructed from
          the temporal ones by 7 auxiliary networks.
        * Forecasting loss: masked MAE on z-scored targets (the authors: MAE in city units, zeros
          ignored); ``source_steps`` steps (the authors: 50 epochs) then the budget's
          ``finetune_steps``, the state picked on the validation days
          (:class:`~baselines.common.BestOnValidation`), the rule every method shares. 6 steps ahead.
    """

    patch_len: int = setting(PATCH_LEN, "steps per patch (one input window)", AT_LEAST_1)
    history_patches: int = setting(HISTORY_PATCHES, "patches of source history the teacher reads", at_least(2))
    embed_dim: int = setting(32, "width of the teacher's patch encodings and of the student", AT_LEAST_1)
    heads: int = setting(4, "attention heads of the teacher (divides embed_dim)", AT_LEAST_1)
    depth: int = setting(2, "transformer layers of the teacher's encoder", AT_LEAST_1)
    mask_ratio: float = setting(0.75, "share of patches masked in pre-training (at least one, not all)", OPEN_UNIT)
    graph_dim: int = setting(32, "width of the graph generator's node codes", AT_LEAST_1)
    temperature: float = setting(0.5, "Gumbel-softmax temperature", POSITIVE)
    target_degree: float = setting(0.0, "links per node the degree regulariser aims at (authors: 0)", NON_NEGATIVE)
    degree_weight: float = setting(0.1, "weight of the degree regulariser", NON_NEGATIVE)
    coral_weight: float = setting(1e-3, "weight of the CORAL term in source training", NON_NEGATIVE)
    pretrain_steps: int = setting(4000, "masked-autoencoder steps on the sources", AT_LEAST_1)
    distil_steps: int = setting(2000, "distillation steps on the sources", AT_LEAST_1)
    source_steps: int = setting(4000, "source training steps of the generator and GWN", AT_LEAST_1)
    source_batch_size: int = setting(32, "source windows per step (all their nodes)", AT_LEAST_1)
    backbone: str = setting("GWN", "registered backbone (Graph WaveNet only)")
    backbone_config: dict = field(default_factory=dict, metadata={"help": "GWN fields (widths, dropout, ...)"})
    lr: float = setting(5e-4, "Adam learning rate of every phase (authors' 5e-4)", POSITIVE)
    weight_decay: float = setting(1e-5, "Adam weight decay (authors' 1e-5)", NON_NEGATIVE)
    clip_norm: float = setting(3.0, "gradient norm clip (authors' 3)", POSITIVE)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        super().__post_init__()
        if self.backbone != "GWN":
            raise ConfigError(f"{owner}.backbone must be 'GWN' (TransGTR hands its graph to Graph WaveNet), "
                              f"got {self.backbone!r}")
        check_backbone(owner, self.backbone, self.backbone_config, fixed=FIXED_BACKBONE_FIELDS)
        if self.embed_dim % self.heads:
            raise ConfigError(f"{owner}.embed_dim ({self.embed_dim}) must be a multiple of heads ({self.heads})")

    @property
    def span(self) -> int:
        return self.patch_len * self.history_patches

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (source: pre-training, distillation, source training)."""
        source_steps = self.pretrain_steps + self.distil_steps + self.source_steps
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": source_steps, "source_samples": source_steps * self.source_batch_size}


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@register_baseline(METHOD, TransGTRConfig, backbones=("GWN",), presets={
    "paper": {},
    "cpu": {"pretrain_steps": 300, "distil_steps": 300, "source_steps": 600, "source_batch_size": 16},
    "smoke": {"embed_dim": 8, "heads": 2, "depth": 1, "graph_dim": 8, "pretrain_steps": 3, "distil_steps": 3,
              "source_steps": 3, "source_batch_size": 4},
})
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: TransGTRConfig | None = None,
    device: str = "cpu",
) -> dict:
    """TransGTR on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/TransGTR_GWN/<task>/...``)."""
    config = config or TransGTRConfig()

    def train_and_test(result: ResultFile, data: TransferData, rng: np.random.Generator) -> dict:
        positions, generator = history_positions(data.sources, config.span), torch.Generator().manual_seed(seed)
        sources = f"{len(data.sources)} source cities"
        teacher = PatchMAE(config.patch_len, config.history_patches, config.embed_dim, config.heads,
                           config.depth).to(device)
        with phase(logger, METHOD, "MAE pre-training", f"{config.pretrain_steps} steps on {sources}"):
            pretrain_mae(teacher, data.sources, positions, config, rng, generator)
        student = ShortFeatureNet(data.protocol.input_len, NUM_INPUT_FEATURES, config.embed_dim).to(device)
        with phase(logger, METHOD, "distillation", f"{config.distil_steps} steps on {sources}"):
            distil(student, teacher, data.sources, positions, config, rng)
        model = TransGTRForecaster(student, config.embed_dim, config.graph_dim, config.temperature,
                                   config.backbone_config, data.protocol).to(device)
        logger.info("%s: %d parameters (teacher %d, student %d, generator and GWN %d)", METHOD,
                    parameter_count(teacher) + parameter_count(model), parameter_count(teacher),
                    parameter_count(student), parameter_count(model) - parameter_count(student))
        with phase(logger, METHOD, "source training", f"{config.source_steps} steps on {sources}"):
            train_on_sources(model, data.sources, data.target_train, config, rng)
        return finetune_and_test(
            result, config, data, model,
            lambda selector: finetune(model, data.target_train, config, rng, selector),
            lambda windows: evaluate(model, windows, config.batch_size),
        )

    return trained_run(METHOD, task, seed, protocol, out_root, data_root, config, device, train_and_test,
                       config.backbone, lambda data: history_positions(data.sources, config.span))


def main(argv: list[str] | None = None) -> int:
    return trained_main(parser(METHOD, trained=True), argv, run, lambda args: TransGTRConfig(**protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
