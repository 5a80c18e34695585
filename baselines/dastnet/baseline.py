"""DASTNet's settings, adversarial pre-training on the sources, fine-tuning on the target, and its run.

Tang, Qu, Chow, Lam, Wong & Ma, "Domain Adversarial Spatial-Temporal Network: A Transferable
Framework for Short-term Traffic Forecasting across Cities", CIKM 2022 (arXiv 2202.03630).

Registered as the baseline ``DASTNet`` (:mod:`baselines.registry`); ``python -m baselines.dastnet``.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from baselines.checks import FineTuneSettings, AT_LEAST_1, NON_NEGATIVE, POSITIVE, at_least
from baselines.checks import setting
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import BestOnValidation, TransferData, finetune_and_test, finetune_batches, score_windows
from baselines.common import trained_run
from baselines.dastnet.model import CityNodes, DASTNetModel, DomainClassifier, mean_of_neighbours, reversal_scale
from baselines.records import ResultFile
from baselines.progress import bar, phase
from baselines.registry import NO_BACKBONE, register_baseline
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import NUM_INPUT_FEATURES, CityWindows
from tsjt_basicts.graphs.node2vec import node2vec_embeddings
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss

logger = logging.getLogger(__name__)
METHOD = "DASTNet"
NODE2VEC_WINDOW = 5  # the authors' skip-gram window
NODE2VEC_SEED = 0  # a city's embedding is a function of its graph alone, the same in every run


@dataclass
class DASTNetConfig(FineTuneSettings):
    """DASTNet settings (defaults: the authors' widths and node2vec walks; the seed is ``run``'s argument).

    Deviations from the paper / authors' code (github YihongT/DASTNet):
        * Per-city modules (shared spatial encoders, heads) are keyed by city name, for any task; the
          authors hard-code PEMS04/07/08.
        * Pre-training interleaves the sources, one source city per step in turn, for ``pretrain_steps``
          steps; the authors train on one source for 10 epochs, then the next.
        * The domain classifier tells apart the sources and, with ``target_domain`` (default, as the
          authors' code), the target: its node2vec embedding only (its graph, never its series) enters
          the domain loss during pre-training. The domain loss is the sum over cities of each city's
          mean cross-entropy over its nodes, weighted by ``domain_weight`` (beta 0.2, theta 1).
        * The gradient is always reversed, scaled by lambda = 2 / (1 + exp(-10 p)) - 1 over the
          pre-training progress p; the authors reverse it only while the last batch's domain accuracy
          exceeds 1/3 (else pass it on unreversed) and run p over 200 epochs.
        * Adam at ``lr`` (1e-3) in both phases instead of SGD (lr 1e-4, momentum 0.8): the budgets here
          are a few thousand steps. The forecasting loss is masked MAE on z-scored targets (the
          project's), not MAE in city units; no batch is skipped for all-zero labels.
        * The GRU reads the protocol's 3 input channels (value, time of day, day of week), not the
          value alone, through ``torch.nn.GRUCell`` (its reset gate acts after the recurrent matmul);
          the spatial projection has a bias per channel instead of one scalar.
        * node2vec: this project's walks on the undirected graph (the authors' on the directed one),
          ``walks_per_node`` x ``walk_length`` (the authors' 200 x 8), skip-gram window 5, seed 0.
          The neighbour mean of the spatial encoder reads the graph's edges (``A_ij > 0``) without
          self-loops; an isolated node keeps its own term only.
        * Fine-tuning runs the budget's ``finetune_steps`` Adam steps; the state is picked on the
          validation days (:class:`~baselines.common.BestOnValidation`), the rule every method shares,
          instead of the authors' early stopping on a validation split. 6 steps ahead, not 3.
    """

    vec_dim: int = setting(64, "node2vec embedding size", AT_LEAST_1)
    walks_per_node: int = setting(200, "node2vec walks from each node", AT_LEAST_1)
    walk_length: int = setting(8, "nodes per node2vec walk", at_least(2))
    node2vec_p: float = setting(1.0, "node2vec return parameter p", POSITIVE)
    node2vec_q: float = setting(1.0, "node2vec in-out parameter q", POSITIVE)
    hidden_dim: int = setting(64, "GRU state and spatial encoder hidden size", AT_LEAST_1)
    embed_dim: int = setting(64, "spatial embedding size (the authors' enc_dim)", AT_LEAST_1)
    pretrain_steps: int = setting(4000, "adversarial pre-training steps, one source city each", AT_LEAST_1)
    source_batch_size: int = setting(64, "source windows per pre-training step", AT_LEAST_1)
    domain_weight: float = setting(0.2, "beta: weight of the domain loss in pre-training", NON_NEGATIVE)
    target_domain: bool = setting(True, "the target's graph is a class of the domain classifier")
    lr: float = setting(1e-3, "Adam learning rate (pre-training and fine-tuning)", POSITIVE)

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (source pre-training, target fine-tuning)."""
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": self.pretrain_steps, "source_samples": self.pretrain_steps * self.source_batch_size}


def city_nodes(windows: CityWindows, config: DASTNetConfig, device: str) -> CityNodes:
    """The city's node2vec vectors (computed once per city graph and settings) and neighbour mean."""
    graph = windows.graph
    name = f"dastnet_node2vec_{config.vec_dim}_{config.walks_per_node}x{config.walk_length}_" \
           f"p{config.node2vec_p}_q{config.node2vec_q}"
    vectors = graph.derived(name, lambda g: node2vec_embeddings(
        g.adjacency, dim=config.vec_dim, walks_per_node=config.walks_per_node, walk_length=config.walk_length,
        p=config.node2vec_p, q=config.node2vec_q, window=NODE2VEC_WINDOW, seed=NODE2VEC_SEED))
    return CityNodes(windows.city.name, torch.as_tensor(vectors).to(device),
                     mean_of_neighbours(graph.adjacency).to(device))


def forecast_loss(model: DASTNetModel, windows: CityWindows, positions: np.ndarray, nodes: CityNodes,
                  spatial: torch.Tensor | None = None) -> torch.Tensor:
    """Masked MAE of the model's forecasts of windows ``positions`` (targets z-scored by the city's scaler)."""
    batch = windows.batch(positions)
    targets = torch.where(batch.mask, windows.scaler.transform(batch.targets), 0.0)
    return masked_mae_loss(model(batch.inputs, nodes, spatial), targets, batch.mask)


def domain_loss(model: DASTNetModel, classifier: DomainClassifier, domains: list[CityNodes],
                scale: float) -> tuple[torch.Tensor, list[torch.Tensor], float]:
    """Summed per-city cross-entropy of the classifier on every domain's shared node embeddings
    (reversed gradient scaled by ``scale``); also those embeddings and the share of nodes told right."""
    shared = [model.shared_embedding(city) for city in domains]
    losses, right, total = [], 0, 0
    for label, embeddings in enumerate(shared):
        logits = classifier(embeddings, scale)
        labels = torch.full((len(embeddings),), label, device=logits.device)
        losses.append(nn.functional.cross_entropy(logits, labels))
        right, total = right + int((logits.argmax(1) == labels).sum()), total + len(labels)
    return torch.stack(losses).sum(), shared, right / total


def pretrain(model: DASTNetModel, classifier: DomainClassifier, sources: list[CityWindows],
             domains: list[CityNodes], config: DASTNetConfig, rng: np.random.Generator) -> None:
    """Forecasting loss on one source city per step (in turn) plus ``domain_weight`` times the domain
    loss of every domain; ``domains`` begin with the sources, in order."""
    optimizer = torch.optim.Adam([*model.parameters(), *classifier.parameters()], lr=config.lr)
    model.train()
    classifier.train()
    curve = CurveLog(config.pretrain_steps, points=5)
    for step in bar(range(config.pretrain_steps), config.pretrain_steps, f"{METHOD} pre-training"):
        city = step % len(sources)
        windows = sources[city]
        positions = rng.choice(len(windows), min(config.source_batch_size, len(windows)), replace=False)
        adversarial, shared, accuracy = domain_loss(model, classifier, domains, reversal_scale(step / config.pretrain_steps))
        forecast = forecast_loss(model, windows, positions, domains[city], shared[city])
        optimizer.zero_grad()
        (forecast + config.domain_weight * adversarial).backward()
        optimizer.step()
        curve.add(forecast)
    logger.info("%s: source forecasting loss (masked MAE, z-scored) by block of steps %s; last domain accuracy "
                "%.3f (chance %.3f)", METHOD, curve.points, accuracy, 1 / len(domains))


def finetune(model: DASTNetModel, windows: CityWindows, nodes: CityNodes, config: DASTNetConfig,
             rng: np.random.Generator, selector: BestOnValidation) -> CurveLog:
    """``finetune_steps`` Adam steps of every parameter on the target's few-shot windows; the loss curve."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    curve = CurveLog(config.finetune_steps)
    batches = finetune_batches(np.arange(len(windows)), config.finetune_steps, config.batch_size, rng)
    for step, positions in enumerate(bar(batches, config.finetune_steps, f"{METHOD} fine-tuning"), 1):
        loss = forecast_loss(model, windows, positions, nodes)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.add(loss)
        selector.check(step)
    return curve


def evaluate(model: DASTNetModel, windows: CityWindows, nodes: CityNodes) -> MetricAccumulator:
    """Metrics of every window in the city's units."""
    model.eval()
    return score_windows(windows, lambda batch, _: model(batch.inputs, nodes))


def build(data: TransferData, config: DASTNetConfig, device: str) -> tuple[DASTNetModel, DomainClassifier, list]:
    """The model, the domain classifier and the domains' nodes (sources in order, then the target)."""
    with phase(logger, METHOD, "node2vec", f"of {len(data.sources) + 1} city graphs"):
        domains = [city_nodes(windows, config, device) for windows in [*data.sources, data.target_train]]
    model = DASTNetModel([c.name for c in domains[:-1]], domains[-1].name, config.vec_dim, config.hidden_dim,
                         config.embed_dim, NUM_INPUT_FEATURES, data.protocol.output_len).to(device)
    classes = len(domains) if config.target_domain else len(data.sources)
    classifier = DomainClassifier(config.embed_dim, classes).to(device)
    count = sum(p.numel() for p in [*model.parameters(), *classifier.parameters()])
    logger.info("%s: %d parameters (model and domain classifier)", METHOD, count)
    return model, classifier, domains


@register_baseline(METHOD, DASTNetConfig, backbones=NO_BACKBONE, presets={
    "paper": {},
    "cpu": {"hidden_dim": 32, "embed_dim": 32, "pretrain_steps": 1000, "source_batch_size": 16},
    "smoke": {"vec_dim": 8, "walks_per_node": 4, "hidden_dim": 8, "embed_dim": 8, "pretrain_steps": 4,
              "source_batch_size": 8},
})
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: DASTNetConfig | None = None,
    device: str = "cpu",
) -> dict:
    """DASTNet on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/DASTNet/<task>/...``)."""
    config = config or DASTNetConfig()

    def train_and_test(result: ResultFile, data: TransferData, rng: np.random.Generator) -> dict:
        model, classifier, domains = build(data, config, device)
        pretraining = f"{config.pretrain_steps} steps on {len(data.sources)} source cities"
        with phase(logger, METHOD, "adversarial pre-training", pretraining):
            in_domains = domains if config.target_domain else domains[:-1]
            pretrain(model, classifier, data.sources, in_domains, config, rng)
        target = domains[-1]
        return finetune_and_test(
            result, config, data, model,
            lambda selector: finetune(model, data.target_train, target, config, rng, selector),
            lambda windows: evaluate(model, windows, target),
        )

    return trained_run(METHOD, task, seed, protocol, out_root, data_root, config, device, train_and_test)


def main(argv: list[str] | None = None) -> int:
    return trained_main(parser(METHOD, trained=True), argv, run, lambda args: DASTNetConfig(**protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
