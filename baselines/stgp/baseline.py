"""STGP's settings, masked pre-training on the sources, two-stage prompting on the target, and its run.

Hu, Liu, Fan, Yin, Xiang, Ramasamy & Zimmermann, "Prompt-Based Spatio-Temporal Graph Transfer
Learning", CIKM 2024 (arXiv 2405.12452). Registered as the baseline ``STGP``; ``python -m baselines.stgp``.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import numpy as np
import torch

from baselines.checks import FineTuneSettings, AT_LEAST_1, OPEN_UNIT, POSITIVE, Rule, at_least, check_device
from baselines.checks import setting
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import BestOnValidation, TransferData, claim_result, finetune_and_test, score_windows
from baselines.common import transfer_data
from baselines.long_history import HISTORY_PATCHES, PATCH_LEN, fitting_positions
from baselines.progress import bar, phase
from baselines.registry import NO_BACKBONE, register_baseline
from baselines.stgp.layers import CityStructure, city_structure, set_dropout
from baselines.stgp.model import STGPModel
from baselines.stgp.segments import Segments, hidden_grid, masked_patch_loss, random_kept, window_segments
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.split import Protocol
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss

logger = logging.getLogger(__name__)
METHOD = "STGP"
SHARE = Rule(lambda value: 0 <= value < 1, "in [0, 1)")  # of steps (domain prompting), dropout


@dataclass
class STGPConfig(FineTuneSettings):
    """STGP settings (defaults: the authors' widths; the seed is ``run``'s argument).

    Patching for 12 -> 6 windows: a sample is the window's history, ``history_steps`` steps ending with its
    last input step (:mod:`baselines.long_history`: 48 by default, the 12 input steps and the 36 before),
    then its 6 future steps, cut into patches of ``patch_len`` = 6 steps: 8 history patches (6 of long
    history, 2 of input) and 1 future patch, 9 tokens per node. Forecasting keeps the 8 history patches
    and reconstructs the masked future patch, which is the forecast.

    Deviations from the paper / authors' code (github hjf1997/STGP):
        * Patches of 6 steps, 8 + 1 per sample (above), instead of 12-step patches of one day + the next
          hour (24 + 1); target training windows lacking 48 steps of history in the few-shot range are
          dropped (:func:`~baselines.long_history.fitting_positions`).
        * Patch embedding: a linear map of the patch's z-scored values; its hour / weekday is that of
          the patch's first step (the authors round the patch's mean). Cities without a known start date
          have weekday 0 throughout. Each city is z-scored by its own scaler (the project's).
        * Graphormer spatial encoding from the road graph's edge weights, bucketed by
          ``ceil(num_spatial * w / max w)`` (bucket 0 = no edge, zero bias); the authors floor the raw
          weight (assumed in [0, 1]), which sends weak edges to the "no edge" bucket. Degrees are the
          counts of in / out edges, capped at ``num_degree - 1`` (the authors' tables would overflow).
        * Our own attention (post-norm, GELU feed-forward, no dropout on the attention weights) instead of
          fairseq's and TSFormer's layers (attention dropout 0.1); the encoders gather the kept patches and
          nodes of a batch, as the authors' do.
        * Decoder: ``decoder_depth`` layers of a temporal transformer over a node's patches (with a
          learned position per patch) gated with a 2-hop diffusion convolution on the forward and
          backward random walks of the road graph, then a two-layer head; the authors' decoder is a
          Graph-WaveNet-like gated dilated convolution over the patch axis (2 x 3 layers, supports
          ``A / rowsum``, ``A^T / colsum``) with a skip head of widths 128 / 256.
        * Pre-training: ``pretrain_steps`` Adam steps, one source city per step in turn, ``source_batch_size``
          windows of every node, one random mask per step (``mask_ratio`` of the patches and of the
          nodes; the loss on every token not both kept), masked MAE on z-scored values over observed
          steps; the authors run epochs with a cosine schedule and early stopping on held-out source data,
          with MAE that skips zeros.
        * Prompting: as the authors, the whole pre-trained network stays frozen, domain prompting learns
          the two encoders' input prompts by random-mask reconstruction on the target's few-shot windows,
          then task prompting learns the forecasting prompts (kept and masked patches) on the decoder
          input by the forecast's masked MAE. Both stages share the budget's ``finetune_steps``
          (``domain_share`` of them domain prompting), with validation every ``eval_every`` steps of
          either stage and the best state kept (:class:`~baselines.common.BestOnValidation`, the rule
          every method shares); the authors train each stage to early stopping on the 3 days after the
          few-shot days. A saved state records which prompts are on.
        * Dropout ``dropout`` in pre-training, none while prompting (as the authors). Adam without
          schedule, at ``lr`` in pre-training and ``prompt_lr`` for the prompts (the authors: 1e-3 with a
          cosine schedule over up to 300 epochs). Under the budget's steps 1e-3 barely moves the prompts:
          on metro's validation days (seed 0, cpu preset, 600 steps) the best validation MAE was 40.7 /
          33.3 / 32.0 at 1e-3 / 1e-2 / 3e-2, hence 1e-2 (6000 steps) and 3e-2 in the cpu preset.
        * Scored by the shared protocol (6 steps, masked metrics in city units).
    """

    patch_len: int = setting(6, "steps per patch; the output steps must be whole patches", AT_LEAST_1)
    history_steps: int = setting(PATCH_LEN * HISTORY_PATCHES, "steps of history ending with the window's last "
                                 "input (baselines.long_history); whole patches, at least the input", AT_LEAST_1)
    embed_dim: int = setting(128, "token width (a multiple of num_heads)", AT_LEAST_1)
    num_heads: int = setting(4, "attention heads", AT_LEAST_1)
    mlp_ratio: int = setting(2, "feed-forward width / embed_dim", AT_LEAST_1)
    encoder_depth: int = setting(4, "layers of the temporal and of the spatial encoder", AT_LEAST_1)
    decoder_depth: int = setting(2, "decoder layers", AT_LEAST_1)
    dropout: float = setting(0.3, "dropout in pre-training (none while prompting)", SHARE)
    mask_ratio: float = setting(0.5, "share of patches and of nodes masked in pre-training / domain prompting",
                                OPEN_UNIT)
    num_degree: int = setting(50, "degree embeddings (degrees capped at num_degree - 1)", at_least(2))
    num_spatial: int = setting(100, "edge-weight buckets of the attention bias", AT_LEAST_1)
    num_prompts: int = setting(25, "prompts of each domain prompt set", AT_LEAST_1)
    num_task_prompts: int = setting(25, "prompts of each forecasting task prompt set", AT_LEAST_1)
    prompt_threshold: float = setting(0.2, "prompt scores at most this are zeroed", OPEN_UNIT)
    pretrain_steps: int = setting(10000, "masked-reconstruction steps on the sources, one city each", AT_LEAST_1)
    source_batch_size: int = setting(16, "source windows (every node) per pre-training step", AT_LEAST_1)
    domain_share: float = setting(0.5, "share of the fine-tuning steps spent on domain prompting", SHARE)
    lr: float = setting(1e-3, "Adam learning rate of pre-training", POSITIVE)
    prompt_lr: float = setting(1e-2, "Adam learning rate of the prompts (both prompting stages)", POSITIVE)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        super().__post_init__()
        if self.embed_dim % self.num_heads:
            raise ConfigError(
                f"{owner}.embed_dim ({self.embed_dim}) must be a multiple of num_heads ({self.num_heads})")
        if self.history_steps % self.patch_len:
            raise ConfigError(f"{owner}.history_steps ({self.history_steps}) must be a multiple of patch_len "
                              f"({self.patch_len})")

    @property
    def domain_steps(self) -> int:
        return round(self.domain_share * self.finetune_steps)

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (source pre-training, target prompting)."""
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": self.pretrain_steps, "source_samples": self.pretrain_steps * self.source_batch_size}

    def patches(self, protocol: Protocol) -> tuple[int, int]:
        """(history, future) patches under ``protocol``; ``ConfigError`` when its windows do not fit."""
        if self.history_steps < protocol.input_len:
            raise ConfigError(f"STGPConfig.history_steps ({self.history_steps}) must be at least the "
                              f"{protocol.input_len} input steps; raise it")
        if protocol.output_len % self.patch_len:
            raise ConfigError(f"STGPConfig.patch_len ({self.patch_len}) must divide the {protocol.output_len} "
                              "output steps; use e.g. 6 or 3")
        return self.history_steps // self.patch_len, protocol.output_len // self.patch_len


def build_model(config: STGPConfig, protocol: Protocol) -> STGPModel:
    history, future = config.patches(protocol)
    return STGPModel(config.patch_len, history, future, config.embed_dim, config.num_heads, config.mlp_ratio,
                     config.encoder_depth, config.decoder_depth, config.dropout, config.num_degree,
                     config.num_spatial, config.num_prompts, config.num_task_prompts, config.prompt_threshold)


@dataclass(frozen=True)
class CityData:
    """A city's windows, the positions training may draw (history and future inside its training range),
    and its road-graph structure."""

    windows: CityWindows
    positions: np.ndarray
    structure: CityStructure


def city_data(windows: CityWindows, config: STGPConfig, device: str) -> CityData:
    positions = fitting_positions(windows, windows.train_steps, config.history_steps)
    if len(positions) == 0:
        raise DataError(f"city {windows.city.name!r}: no training window has {config.history_steps} steps of "
                        f"history in {windows.train_steps}; lower STGPConfig.history_steps")
    return CityData(windows, positions, city_structure(windows.graph, config.num_degree, config.num_spatial, device))


def segments_of(city: CityData, positions: np.ndarray, config: STGPConfig, with_future: bool) -> Segments:
    return window_segments(city.windows, positions, config.history_steps, config.patch_len, with_future)


def reconstruction_loss(model: STGPModel, city: CityData, positions: np.ndarray, config: STGPConfig,
                        generator: torch.Generator) -> torch.Tensor:
    """Masked MAE of the tokens hidden by one random mask (``mask_ratio`` of the patches and of the nodes)."""
    batch = segments_of(city, positions, config, with_future=True)
    num_nodes, num_patches = city.structure.num_nodes, model.history_patches + model.future_patches
    device = batch.values.device
    kept_patches = random_kept(num_patches, config.mask_ratio, generator).to(device)
    kept_nodes = random_kept(num_nodes, config.mask_ratio, generator).to(device)
    reconstruction = model(batch.values, batch.hours, batch.weekdays, city.structure, kept_patches, kept_nodes)
    hidden = hidden_grid(num_nodes, num_patches, kept_nodes, kept_patches)
    return masked_patch_loss(reconstruction, batch.values, batch.observed, hidden)


def forecast_loss(model: STGPModel, city: CityData, positions: np.ndarray, config: STGPConfig) -> torch.Tensor:
    """Masked MAE of the forecast (the masked future patches) on z-scored targets."""
    batch = segments_of(city, positions, config, with_future=True)
    prediction = model.forecast(batch.values, batch.hours, batch.weekdays, city.structure)
    future = batch.values[..., config.history_steps:].transpose(1, 2)
    return masked_mae_loss(prediction, future, batch.observed[..., config.history_steps:].transpose(1, 2))


def draw(city: CityData, count: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(city.positions, size=min(count, len(city.positions)), replace=False)


def pretrain(model: STGPModel, sources: list[CityData], config: STGPConfig, rng: np.random.Generator,
             generator: torch.Generator) -> list[list[float]]:
    """Masked reconstruction on the sources, one city per step in turn; the loss curve."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    curve = CurveLog(config.pretrain_steps, points=10)
    for step in bar(range(config.pretrain_steps), config.pretrain_steps, f"{METHOD} pre-training"):
        city = sources[step % len(sources)]
        loss = reconstruction_loss(model, city, draw(city, config.source_batch_size, rng), config, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.add(loss)
    logger.info("%s: source reconstruction loss (masked MAE, z-scored) by block of steps %s", METHOD, curve.points)
    return curve.points


def prompt_stage(model: STGPModel, target: CityData, config: STGPConfig, stage: str, steps: range,
                 rng: np.random.Generator, generator: torch.Generator, selector: BestOnValidation,
                 curve: CurveLog) -> None:
    """Learn ``stage``'s prompts ("domain": random-mask reconstruction, "task": forecasting) over ``steps``
    (numbered across both stages), the rest of the model frozen."""
    optimizer = torch.optim.Adam(model.start_prompting(stage), lr=config.prompt_lr)
    model.train()
    for step in bar(steps, len(steps), f"{METHOD} {stage} prompting"):
        positions = draw(target, config.batch_size, rng)
        if stage == "domain":
            loss = reconstruction_loss(model, target, positions, config, generator)
        else:
            loss = forecast_loss(model, target, positions, config)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.add(loss)
        selector.check(step)


def prompt_tune(model: STGPModel, target: CityData, config: STGPConfig, rng: np.random.Generator,
                generator: torch.Generator, selector: BestOnValidation) -> CurveLog:
    """Domain prompting, then task prompting, ``finetune_steps`` steps in all; one loss curve of both (the
    masked reconstruction error, then the forecast error)."""
    set_dropout(model, 0.0)
    curve = CurveLog(config.finetune_steps)
    split = config.domain_steps + 1
    if config.domain_steps:
        prompt_stage(model, target, config, "domain", range(1, split), rng, generator, selector, curve)
    prompt_stage(model, target, config, "task", range(split, config.finetune_steps + 1), rng, generator, selector,
                 curve)
    return curve


def evaluate(model: STGPModel, windows: CityWindows, structure: CityStructure, config: STGPConfig) -> MetricAccumulator:
    """Every window, scored in the city's units (each read with its history patches only)."""
    model.eval()

    def forecast(_batch, positions: np.ndarray) -> torch.Tensor:
        batch = window_segments(windows, positions, config.history_steps, config.patch_len, with_future=False)
        return model.forecast(batch.values, batch.hours, batch.weekdays, structure)

    return score_windows(windows, forecast, batch_size=config.batch_size)


def prepare(data: TransferData, config: STGPConfig, device: str) -> tuple[STGPModel, list[CityData], CityData]:
    """The model and the sources' and target's samples and graph structures."""
    model = build_model(config, data.protocol).to(device)
    sources = [city_data(windows, config, device) for windows in data.sources]
    target = city_data(data.target_train, config, device)
    logger.info("%s: %d parameters, %d of them prompts; %d few-shot training windows with %d steps of history",
                METHOD, sum(p.numel() for p in model.parameters()),
                sum(p.numel() for stage in ("domain", "task") for m in model.prompts(stage) for p in m.parameters()),
                len(target.positions), config.history_steps)
    return model, sources, target


@register_baseline(METHOD, STGPConfig, backbones=NO_BACKBONE, presets={
    "paper": {},
    "cpu": {"embed_dim": 32, "num_heads": 2, "encoder_depth": 2, "decoder_depth": 1, "dropout": 0.1,
            "pretrain_steps": 1000, "source_batch_size": 8, "prompt_lr": 3e-2},
    "smoke": {"embed_dim": 8, "num_heads": 2, "encoder_depth": 1, "decoder_depth": 1, "num_degree": 8,
              "num_spatial": 10, "num_prompts": 4, "num_task_prompts": 4, "pretrain_steps": 4,
              "source_batch_size": 4},
})
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: STGPConfig | None = None,
    device: str = "cpu",
) -> dict:
    """STGP on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/STGP/<task>/...``)."""
    config = config or STGPConfig()
    check_device(device)
    data = transfer_data(METHOD, task, protocol, config.target_days, config.data_seed, data_root, device,
                         config.val_days)
    torch.manual_seed(seed)
    model, sources, target = prepare(data, config, device)  # refuses windows that do not fit, before any work
    result = claim_result(METHOD, "-", task, seed, out_root, config, protocol, data.digest)
    with result.held():
        rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        with phase(logger, METHOD, "pre-training", f"{config.pretrain_steps} steps on {len(sources)} source cities"):
            pretrain(model, sources, config, rng, generator)
        structure = target.structure
        return finetune_and_test(
            result, config, data, model,
            lambda selector: prompt_tune(model, target, config, rng, generator, selector),
            lambda windows: evaluate(model, windows, structure, config),
        )


def main(argv: list[str] | None = None) -> int:
    return trained_main(parser(METHOD, trained=True), argv, run, lambda args: STGPConfig(**protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
