"""AdaRNN: temporal distribution characterisation and matching, then few-shot target fine-tuning.

Du, Wang, Feng, Jiang, Qin & Wang, "AdaRNN: Adaptive Learning and Forecasting of Time Series",
CIKM 2021 (authors' code: github.com/jindongwang/transferlearning, ``code/deep/adarnn``, MIT;
read to understand, not copied). Two parts:

1. **TDC** (:mod:`baselines.adarnn.tdc`): the training series is cut into the periods (domains)
   whose distributions differ most, by a greedy search over candidate cut points.
2. **TDM** (:mod:`baselines.adarnn.tdm`): a GRU forecaster is trained on every domain with its
   forecasting loss plus a loss matching, at every time step and GRU layer, the hidden-state
   distributions of every pair of domains (MMD, CORAL or cosine), weighted per step by importance
   weights updated with the paper's boosting rule.

Adapted to cross-city few-shot forecasting (12 steps in, 6 out): every node of every city is one
sequence of (z-scored value, time of day, day of week), so one node-shared GRU serves cities of
any size. The domains are each source city's TDC periods plus the target's few-shot training
days; after pre-training the model is fine-tuned on the target's few-shot windows and scored by
the shared protocol (:func:`~baselines.common.finetune_and_test`).
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import numpy as np
import torch

from baselines.adarnn.model import NodeGRU
from baselines.adarnn.tdc import Domain, transfer_domains
from baselines.adarnn.tdm import DISTANCES, BoostedWeights, step_distances, tdm_loss
from baselines.checks import FineTuneSettings, AT_LEAST_1, NON_NEGATIVE, POSITIVE, at_least
from baselines.checks import one_of, setting
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import BestOnValidation, TransferData, finetune_and_test, finetune_batches, score_windows
from baselines.common import trained_run
from baselines.records import ResultFile
from baselines.progress import bar, phase
from baselines.registry import NO_BACKBONE, register_baseline
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import NUM_INPUT_FEATURES, CityWindows
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss

logger = logging.getLogger(__name__)
METHOD = "AdaRNN"
DISTANCE = one_of(*DISTANCES)
EVAL_SEQUENCES = 16384  # node sequences per scoring batch: windows per batch = this // nodes


@dataclass
class AdaRNNConfig(FineTuneSettings):
    """AdaRNN settings (the seed is ``run``'s argument); checked when made.

    Deviations from the paper / authors' code:
        * Domains: each source city's training range is cut by TDC into ``tdc_periods`` periods
          (a step's distribution: the city's z-scored values at its nodes; the paper cuts one
          series); the target's few-shot training days are one more, uncut domain. TDC's
          candidate cuts are an even grid of ``tdc_candidates`` parts over the range, in steps
          (the authors' 10 parts, in days).
        * Node-shared GRU over each node's window (the paper: one multivariate series); only
          ``nodes_per_window`` random nodes of each of ``windows_per_domain`` windows per domain
          are used in a pre-training step; fine-tuning and scoring use every node.
        * One forward pass over all domains per step, TDM summed over every pair of domains
          (the authors run a pass per pair); the forecasting loss is the mean over domains of
          the masked MAE on z-scored targets (the authors: MSE per pair).
        * Importance weights: uniform for the first boosting epoch (``boost_every`` steps), then
          the boosting update on the epoch's mean distances; the authors' gate network of the
          first epochs is not used. TDM matches the same step of two domains (``len_win = 0``).
        * Linear read-out of the last hidden state to the 6 steps (no bottleneck); Adam at
          ``pretrain_lr`` with the authors' gradient clipping by value, no early stopping:
          pre-training runs ``pretrain_steps`` steps; then ``finetune_steps`` Adam steps on the
          target alone (forecasting loss only), the step picked on the validation days
          (:class:`~baselines.common.BestOnValidation`), the rule every method of the suite shares.
        * Compute: ``source_samples`` counts windows per domain (pre-training steps x
          ``windows_per_domain``), the target's domain included.
    """

    hidden_size: int = setting(64, "GRU width (authors' default)", AT_LEAST_1)
    layers: int = setting(2, "stacked GRU layers (the paper's 2)", AT_LEAST_1)
    tdc_periods: int = setting(2, "TDC periods (domains) per source city", AT_LEAST_1)
    tdc_candidates: int = setting(10, "TDC grid: candidate cuts at every 1/tdc_candidates of the range", at_least(2))
    tdc_distance: str = setting("mmd", "distance of TDC's periods", DISTANCE)
    tdm_distance: str = setting("mmd", "distance of TDM's hidden states", DISTANCE)
    tdm_weight: float = setting(0.5, "weight of the TDM loss (the authors' dw)", NON_NEGATIVE)
    boost_every: int = setting(100, "pre-training steps per boosting epoch of the importance weights", AT_LEAST_1)
    pretrain_steps: int = setting(5000, "Adam steps of pre-training on every domain", AT_LEAST_1)
    windows_per_domain: int = setting(16, "windows of each domain per pre-training step", AT_LEAST_1)
    nodes_per_window: int = setting(32, "random nodes of each window per pre-training step", at_least(2))
    pretrain_lr: float = setting(1e-3, "Adam learning rate of pre-training", POSITIVE)
    grad_clip: float = setting(3.0, "pre-training gradients clipped to +-this (the authors' 3)", POSITIVE)
    finetune_lr: float = setting(1e-3, "Adam learning rate of fine-tuning", POSITIVE)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        super().__post_init__()
        if self.tdc_periods > self.tdc_candidates:
            raise ConfigError(f"{owner}.tdc_periods ({self.tdc_periods}) must be at most tdc_candidates "
                              f"({self.tdc_candidates}); lower tdc_periods or raise tdc_candidates")

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (source pre-training: windows per domain)."""
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": self.pretrain_steps, "source_samples": self.pretrain_steps * self.windows_per_domain}


@dataclass
class Sequences:
    """Node sequences of one domain: inputs ``[S, L, F]``, z-scored targets and mask ``[S, H]``."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor


def domain_sequences(domain: Domain, config: AdaRNNConfig, rng: np.random.Generator) -> Sequences:
    """``windows_per_domain`` random windows of ``domain``, each cut to ``nodes_per_window`` random nodes."""
    windows = domain.windows
    positions = rng.choice(domain.positions, min(config.windows_per_domain, len(domain.positions)), replace=False)
    batch = windows.batch(positions)
    count, nodes = len(positions), batch.inputs.shape[2]
    picked = rng.random((count, nodes)).argsort(1)[:, : min(config.nodes_per_window, nodes)]
    device = batch.inputs.device
    rows, columns = torch.arange(count, device=device)[:, None], torch.from_numpy(picked).to(device)
    targets = torch.where(batch.mask, windows.scaler.transform(batch.targets), 0.0)
    # advanced indices around a slice come first: [w k L F] / [w k H]
    return Sequences(batch.inputs[rows, :, columns].flatten(0, 1), targets[rows, :, columns].flatten(0, 1),
                     batch.mask[rows, :, columns].flatten(0, 1))


def pretrain_step(model: NodeGRU, domains: list[Domain], config: AdaRNNConfig, rng: np.random.Generator,
                  weights: BoostedWeights, optimizer: torch.optim.Optimizer) -> tuple[float, float]:
    """One step of forecasting loss + weighted TDM over every domain; (forecasting loss, TDM loss)."""
    parts = [domain_sequences(domain, config, rng) for domain in domains]
    sizes = [len(part.inputs) for part in parts]
    states = model.encode(torch.cat([part.inputs for part in parts]))
    predictions = model.forecast(states).split(sizes)
    forecasting = torch.stack([masked_mae_loss(p, part.targets, part.mask) for p, part in zip(predictions, parts)])
    distances = step_distances(states, sizes, DISTANCES[config.tdm_distance])
    weights.add(distances)
    matching = tdm_loss(distances, weights.weights)
    optimizer.zero_grad()
    (forecasting.mean() + config.tdm_weight * matching).backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), config.grad_clip)
    optimizer.step()
    return forecasting.mean().item(), matching.item()


def pretrain(model: NodeGRU, domains: list[Domain], config: AdaRNNConfig, rng: np.random.Generator) -> BoostedWeights:
    """``pretrain_steps`` steps of AdaRNN's TDM training; the boosting update every ``boost_every`` steps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.pretrain_lr)
    weights = BoostedWeights(config.layers, domains[0].windows.input_len, next(model.parameters()).device)
    model.train()
    losses = []
    for step in bar(range(1, config.pretrain_steps + 1), config.pretrain_steps, f"{METHOD} pre-training"):
        losses.append(pretrain_step(model, domains, config, rng, weights, optimizer))
        if step % config.boost_every == 0:
            weights.end_epoch()
    first, last = np.mean(losses[: config.boost_every], 0), np.mean(losses[-config.boost_every :], 0)
    logger.info("%s pre-training: forecasting / TDM loss %.4f / %.4f in the first boosting epoch, %.4f / %.4f "
                "in the last", METHOD, *first, *last)
    return weights


def finetune(model: NodeGRU, windows: CityWindows, config: AdaRNNConfig, rng: np.random.Generator,
             selector: BestOnValidation) -> CurveLog:
    """``finetune_steps`` Adam steps of masked MAE on ``batch_size`` shuffled few-shot windows (every node)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.finetune_lr)
    model.train()
    curve = CurveLog(config.finetune_steps)
    batches = finetune_batches(np.arange(len(windows)), config.finetune_steps, config.batch_size, rng)
    for step, positions in enumerate(bar(batches, config.finetune_steps, f"{METHOD} fine-tuning"), 1):
        batch = windows.batch(positions)
        targets = torch.where(batch.mask, windows.scaler.transform(batch.targets), 0.0)
        loss = masked_mae_loss(model(batch.inputs), targets, batch.mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.add(loss)
        selector.check(step)
    return curve


def evaluate(model: NodeGRU, windows: CityWindows) -> MetricAccumulator:
    """Metrics of every window in the city's units."""
    model.eval()
    batch_size = max(1, EVAL_SEQUENCES // windows.city.num_nodes)
    return score_windows(windows, lambda batch, _: model(batch.inputs), batch_size)


def describe(domains: list[Domain]) -> str:
    return ", ".join(f"{domain.name} ({len(domain.positions)} windows)" for domain in domains)


@register_baseline(METHOD, AdaRNNConfig, backbones=NO_BACKBONE, presets={
    "paper": {},
    "cpu": {"pretrain_steps": 1500, "windows_per_domain": 8, "nodes_per_window": 16},
    "smoke": {"pretrain_steps": 4, "boost_every": 2, "windows_per_domain": 4, "nodes_per_window": 8,
              "hidden_size": 16},
})
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: AdaRNNConfig | None = None,
    device: str = "cpu",
) -> dict:
    """AdaRNN on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/AdaRNN/<task>/...``)."""
    config = config or AdaRNNConfig()

    def train_and_test(result: ResultFile, data: TransferData, rng: np.random.Generator) -> dict:
        with phase(logger, METHOD, "TDC", f"{config.tdc_periods} periods per source city"):
            domains = transfer_domains(data.sources, data.target_train, config.tdc_periods, config.tdc_candidates,
                                       DISTANCES[config.tdc_distance])
        logger.info("%s domains: %s", METHOD, describe(domains))
        model = NodeGRU(NUM_INPUT_FEATURES, config.hidden_size, config.layers, data.protocol.output_len).to(device)
        with phase(logger, METHOD, "pre-training", f"{config.pretrain_steps} steps on {len(domains)} domains"):
            weights = pretrain(model, domains, config, rng)
        logger.info("%s importance weights (layer x step): %s", METHOD, np.round(weights.weights.cpu().numpy(), 3))
        return finetune_and_test(result, config, data, model,
                                 lambda selector: finetune(model, data.target_train, config, rng, selector),
                                 lambda windows: evaluate(model, windows))

    return trained_run(METHOD, task, seed, protocol, out_root, data_root, config, device, train_and_test)


def main(argv: list[str] | None = None) -> int:
    return trained_main(parser(METHOD, trained=True), argv, run, lambda args: AdaRNNConfig(**protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
