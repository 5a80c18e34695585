"""GPD's settings, its three stages and the registered ``run``.

Yuan, Ding, Jin & Li, "Spatio-Temporal Few-Shot Learning via Diffusive Neural Network
Generation", ICLR 2024 (github tsinghua-fib-lab/GPD). Registered as the baseline ``GPD`` with the
backbone ``GWN`` (:mod:`baselines.registry`); ``python -m baselines.gpd``.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import numpy as np
import torch

from baselines.checks import FineTuneSettings, AT_LEAST_1, POSITIVE, setting
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import TransferData, finetune_and_test, trained_run
from baselines.gpd.diffusion import Denoiser, ParameterDiffusion, train_diffusion
from baselines.gpd.ego import ego_graphs
from baselines.gpd.node_model import NodeModels, NodeModelSpec, node_model_layout
from baselines.gpd.prompts import node_prompts, prompt_size
from baselines.gpd.training import SourceNodes, VectorScale, evaluate, finetune, standardise, train_source_models
from baselines.progress import bar, phase
from baselines.records import ResultFile
from baselines.registry import register_baseline
from tsjt_basicts.data.split import Protocol
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import NUM_INPUT_FEATURES, CityWindows
from tsjt_basicts.errors import ConfigError

logger = logging.getLogger(__name__)
METHOD = "GPD"
BACKBONE = "GWN"
EVAL_BATCH = 64  # test / validation windows per forward: every node's ego graph is gathered per window


@dataclass
class GPDConfig(FineTuneSettings):
    """GPD settings (defaults: the paper's scale for a GPU; the seed is ``run``'s argument).

    Deviations from the paper / authors' code (github tsinghua-fib-lab/GPD):
        * The authors' code crashes on its traffic cities and omits how its prompts are made
          (it loads ready embeddings; all-ones knowledge-graph prompts for traffic). Our prompts are
          designed from the paper's description (:mod:`baselines.gpd.prompts`): the node's daily
          profile shape, level and spread (temporal) and its degree, k-hop size, weighted degree and
          clustering (spatial), all from the training range, standardised over the source nodes and
          clipped to +-3 of their spread.
        * Per-node model: the authors' ``v_GWN`` (no biases, gated dilated convolutions, two
          transition supports of order 2, skip and end convolutions) without batch norm and dropout,
          forecasting the centre node at its last time step, reading the protocol's 3 input channels
          (value, time of day, day of week; the authors' 2). All per-node models of a run start from
          one shared random initialisation, so their parameter vectors are comparable entry by entry
          (the authors train each node from its own initialisation). The ego graph is the node and its
          ``hops``-hop neighbours (the authors: 1 hop), at most ``ego_size`` of them (nearer hops,
          heavier edges first), padded; supports are the ego subgraph's forward / backward
          transition matrices (the authors: a normalised adjacency and its transpose).
        * Source per-node models: at most ``nodes_per_source`` random nodes per source city (the
          authors: every node), trained all at once for ``node_train_steps`` Adam steps on the
          centre's masked MAE of z-scored windows (the authors: MSE in city units, per-node
          normalisation, 30% of the series held out for per-node early stopping, weight decay 1e-2).
        * Diffusion: the authors' DDPM (linear betas, v-prediction, L2) and ``Trans1``-style
          denoiser (step and prompt embeddings added to every token), with ``torch`` transformer
          layers (pre-norm, no dropout) over tokens of ``token_size`` entries; the vectors are
          centred per entry and scaled by one spread (the authors: raw); no EMA; Adam at
          ``diffusion_lr`` for ``diffusion_train_steps`` steps (the authors: 8e-5, 80,000 epochs).
        * Target: one sample per target node from its prompt, then every generated model is
          fine-tuned on the few-shot windows for the budget's ``finetune_steps`` (its own centre's
          loss), the step picked on the validation days (:class:`~baselines.common.BestOnValidation`);
          the authors report the generated models, fine-tuned only in some settings. Adam at ``lr``
          5e-3, the per-node models' rate (at the other baselines' 1e-3 the cpu-budget metro run was
          still falling at its last step, validation MAE 32.8 against 28.1). 6 steps ahead.
    """

    hops: int = setting(1, "k: an ego graph holds the node's k-hop neighbours", AT_LEAST_1)
    ego_size: int = setting(16, "most nodes kept per ego graph (the node included)", AT_LEAST_1)
    channels: int = setting(32, "per-node GWN residual / dilation / skip width", AT_LEAST_1)
    blocks: int = setting(4, "per-node GWN blocks", AT_LEAST_1)
    layers_per_block: int = setting(2, "gated layers per block (dilations 1, 2, ...)", AT_LEAST_1)
    end_channels: int = setting(32, "per-node GWN end convolution width", AT_LEAST_1)
    nodes_per_source: int = setting(1000, "most random nodes per source city given a model", AT_LEAST_1)
    node_train_steps: int = setting(3000, "Adam steps of the source per-node models", AT_LEAST_1)
    node_batch_size: int = setting(64, "source windows per city per step", AT_LEAST_1)
    node_lr: float = setting(5e-3, "Adam learning rate of the source per-node models", POSITIVE)
    profile_bins: int = setting(24, "time-of-day bins of the temporal prompt", AT_LEAST_1)
    diffusion_steps: int = setting(500, "DDPM steps", AT_LEAST_1)
    token_size: int = setting(256, "parameter entries per denoiser token", AT_LEAST_1)
    denoiser_dim: int = setting(256, "denoiser transformer width", AT_LEAST_1)
    denoiser_layers: int = setting(4, "denoiser transformer layers", AT_LEAST_1)
    denoiser_heads: int = setting(4, "denoiser attention heads (divide denoiser_dim)", AT_LEAST_1)
    diffusion_train_steps: int = setting(20000, "Adam steps of the diffusion model", AT_LEAST_1)
    diffusion_batch_size: int = setting(64, "parameter vectors per diffusion step", AT_LEAST_1)
    diffusion_lr: float = setting(2e-4, "Adam learning rate of the diffusion model", POSITIVE)
    lr: float = setting(5e-3, "Adam learning rate of the target fine-tuning", POSITIVE)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        super().__post_init__()
        if self.denoiser_dim % self.denoiser_heads or self.denoiser_dim % 2:
            raise ConfigError(f"{owner}.denoiser_dim ({self.denoiser_dim}) must be even and divisible by "
                              f"denoiser_heads ({self.denoiser_heads}); change either")

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (source windows per city; the generator's steps apart)."""
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": self.node_train_steps, "source_samples": self.node_train_steps * self.node_batch_size,
                "generator_steps": self.diffusion_train_steps}

    def node_spec(self, protocol: Protocol) -> NodeModelSpec:
        return NodeModelSpec(NUM_INPUT_FEATURES, self.channels, self.blocks, self.layers_per_block,
                             self.end_channels, protocol.output_len)


def source_nodes(windows: CityWindows, spec: NodeModelSpec, config: GPDConfig, initial: torch.Tensor,
                 rng: np.random.Generator, device: str) -> SourceNodes:
    """Up to ``nodes_per_source`` random nodes of a source city, each with a model starting from ``initial``."""
    count = windows.city.num_nodes
    centres = np.sort(rng.choice(count, min(count, config.nodes_per_source), replace=False))
    ego = ego_graphs(windows.graph.adjacency, centres, config.hops, config.ego_size)
    models = NodeModels(spec, initial.expand(len(centres), -1), ego).to(device)
    return SourceNodes(windows, torch.from_numpy(centres).to(device), models)


def prompts_of(windows: CityWindows, config: GPDConfig) -> np.ndarray:
    """``[N, D]`` prompts of a city's nodes from its training range."""
    return node_prompts(windows.graph, config.profile_bins, config.hops)


def fit_generator(cities: list[SourceNodes], config: GPDConfig, generator: torch.Generator,
                  device: str) -> tuple[ParameterDiffusion, VectorScale, np.ndarray]:
    """The diffusion model fitted to the source models' vectors given their prompts; also the vectors'
    scale and the source prompts (the reference the target's are standardised by)."""
    vectors = torch.cat([city.models.flat.detach() for city in cities])
    raw = np.concatenate([prompts_of(city.windows, config)[city.centres.cpu().numpy()] for city in cities])
    scale = VectorScale.fit(vectors)
    denoiser = Denoiser(vectors.shape[1], prompt_size(config.profile_bins), config.token_size, config.denoiser_dim,
                        config.denoiser_layers, config.denoiser_heads)
    diffusion = ParameterDiffusion(denoiser, config.diffusion_steps).to(device)
    logger.info("%s: diffusion model of %d parameters on %d source vectors of %d entries", METHOD,
                sum(p.numel() for p in diffusion.parameters()), len(vectors), vectors.shape[1])
    progress = lambda steps: bar(steps, config.diffusion_train_steps, f"{METHOD} diffusion")  # noqa: E731
    losses = train_diffusion(diffusion, scale.encode(vectors), standardise(raw, raw).to(device),
                             config.diffusion_train_steps, config.diffusion_batch_size, config.diffusion_lr,
                             generator, progress)
    tail = max(1, len(losses) // 10)
    logger.info("%s: diffusion loss %.4f (first tenth) -> %.4f (last tenth)", METHOD,
                float(np.mean(losses[:tail])), float(np.mean(losses[-tail:])))
    return diffusion, scale, raw


def generate_target_models(data: TransferData, spec: NodeModelSpec, config: GPDConfig, generator: torch.Generator,
                           device: str, fitted: tuple[ParameterDiffusion, VectorScale, np.ndarray]) -> NodeModels:
    """One model per target node, its parameters sampled from the diffusion model given the node's prompt."""
    diffusion, scale, reference = fitted
    windows = data.target_train
    condition = standardise(prompts_of(windows, config), reference).to(device)
    vectors = scale.decode(diffusion.sample(condition, generator))
    nodes = np.arange(windows.city.num_nodes)
    ego = ego_graphs(windows.graph.adjacency, nodes, config.hops, config.ego_size)
    return NodeModels(spec, vectors, ego).to(device)


@register_baseline(METHOD, GPDConfig, backbones=(BACKBONE,), presets={
    "paper": {},
    "cpu": {"ego_size": 8, "channels": 4, "blocks": 1, "layers_per_block": 3, "end_channels": 8,
            "nodes_per_source": 96, "node_train_steps": 600, "node_batch_size": 16, "diffusion_steps": 50,
            "token_size": 16, "denoiser_dim": 64, "denoiser_layers": 2, "diffusion_train_steps": 4000,
            "diffusion_lr": 1e-3},
    "smoke": {"ego_size": 4, "channels": 2, "blocks": 1, "layers_per_block": 2, "end_channels": 4,
              "nodes_per_source": 6, "node_train_steps": 3, "node_batch_size": 4, "profile_bins": 4,
              "diffusion_steps": 4, "token_size": 8, "denoiser_dim": 8, "denoiser_layers": 1, "denoiser_heads": 2,
              "diffusion_train_steps": 3, "diffusion_batch_size": 4},
})
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: GPDConfig | None = None,
    device: str = "cpu",
) -> dict:
    """GPD on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/GPD_GWN/<task>/...``)."""
    config = config or GPDConfig()

    def train_and_test(result: ResultFile, data: TransferData, rng: np.random.Generator) -> dict:
        generator = torch.Generator().manual_seed(seed)
        spec = config.node_spec(data.protocol)
        initial = node_model_layout(spec).initial(1, generator).to(device)
        cities = [source_nodes(windows, spec, config, initial, rng, device) for windows in data.sources]
        total = sum(len(city.centres) for city in cities)
        logger.info("%s: per-node models of %d parameters", METHOD, initial.shape[1])
        with phase(logger, METHOD, "source per-node models", f"{total} nodes of {len(cities)} cities, "
                   f"{config.node_train_steps} steps"):
            curve = train_source_models(cities, config.node_train_steps, config.node_batch_size, config.node_lr, rng,
                                        f"{METHOD} per-node models")
            logger.info("%s: source per-node loss (masked MAE, z-scored) by block of steps %s", METHOD, curve)
        with phase(logger, METHOD, "diffusion", f"{config.diffusion_train_steps} steps"):
            fitted = fit_generator(cities, config, generator, device)
        with phase(logger, METHOD, "generation", f"a model per node of {data.target_train.city.name}"):
            models = generate_target_models(data, spec, config, generator, device, fitted)
            if data.target_val is not None:
                mae = evaluate(models, data.target_val, EVAL_BATCH).report(data.target_val.city.interval_minutes)
                logger.info("%s: generated models before fine-tuning: validation MAE %.4f", METHOD, mae["avg"]["MAE"])
        return finetune_and_test(
            result, config, data, models,
            lambda selector: finetune(models, data.target_train, config.finetune_steps, config.batch_size, config.lr,
                                      rng, selector, f"{METHOD} fine-tuning"),
            lambda windows: evaluate(models, windows, EVAL_BATCH),
        )

    return trained_run(METHOD, task, seed, protocol, out_root, data_root, config, device, train_and_test, BACKBONE)


def main(argv: list[str] | None = None) -> int:
    return trained_main(parser(METHOD, trained=True), argv, run, lambda args: GPDConfig(**protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
