"""ST-GFSL: node-level meta knowledge generates the forecaster's parameters, meta-trained over cities.

Lu, Gan, Zhang, Yao, Wu & Yang, "Spatio-Temporal Graph Few-Shot Learning with Cross-City
Knowledge Transfer", KDD 2022. Architecture, per window and node:

* **Meta-knowledge learner** ([b t n c] -> [b n meta_dim]): a GRU with one hidden unit runs over
  each node's input window (temporal view); a linear map of the flattened window averaged over the
  node's upstream neighbours (spatial view); a learned per-step gate mixes the two ``[b n t]``
  views and a linear layer maps them to the node's meta knowledge.
* **Parameter generator** (:class:`NodeLinear`): linear maps from a node's meta knowledge to the
  weight and bias of each layer of the forecaster, so every node gets its own parameters and no
  parameter depends on N.
* **Forecaster**, ``model="GRU"``: a GRU cell with generated weights, a shared read-out per step
  and a shared linear map from the input steps to the horizon. ``model="GWN"``: a compact Graph
  WaveNet: generated start projection, gated dilated temporal convolutions (dilation 2^i) and
  diffusion graph convolutions on the forward / backward transition operators, with generated
  weights; shared skip and output layers.
* **Graph reconstruction**: ``sigmoid(K K^T)`` of the meta knowledge regresses (MSE) onto the
  city's binarised adjacency, weighted by ``reconstruction_weight``, in every training loss.
* **Meta-training**: first-order MAML (FOMAML) over the source cities, then fine-tuning on the
  target's few-shot windows and scoring on its test windows by the shared protocol.

Deviations from the authors' code (github.com/RobinLu1209/ST-GFSL):
    * Meta-training is first-order MAML: per task, ``inner_steps`` SGD steps on a support batch,
      and the query-loss gradient at the adapted parameters is averaged into one Adam meta-step.
      As we read the authors' ``meta_train_revise``, each task's Adam-adapted copy replaces the
      model, so their meta-optimiser (built on the original parameters) never applies the query
      gradient and an iteration leaves the model at the last task's adapted copy.
    * The spatial view is a mean over upstream neighbours (forward transition operator) instead
      of a 3-head GAT; the temporal / spatial gate is applied as in their ``STMetaLearner_add``.
    * The reconstructed graph is ``sigmoid(K K^T)`` against the binarised adjacency, not
      ``relu(K K^T)`` against the weighted one (keeps both sides in [0, 1] for any city's weights).
    * Loss: masked MAE on z-scored targets (the project's loss), not MSE; inputs carry the
      project's three channels (value, time of day, day of week) and missing inputs are 0.
    * The GWN variant is compact (``gwn_layers`` layers of kernel 2, no batch norm, no adaptive
      adjacency; a layer's skip is read from its output at the last step, after the graph
      convolution); its skip and end layers are shared, not generated. The GRU variant merges the
      authors' six gate maps into three (the same function).
    * Fine-tuning runs ``finetune_steps`` Adam steps; the step is picked on the validation days
      (:class:`~baselines.common.BestOnValidation`), the rule every method of the suite shares.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.checks import FineTuneSettings, AT_LEAST_1, NON_NEGATIVE, POSITIVE
from baselines.checks import one_of, setting
from baselines.registry import register_baseline
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import BestOnValidation, TransferData, finetune_batches, meta_learn_and_test, score_windows
from baselines.common import trained_run
from baselines.records import ResultFile
from baselines.progress import bar
from tsjt_basicts.backbones import CityGraph
from tsjt_basicts.backbones.layers import diffusion_terms, propagate
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import NUM_INPUT_FEATURES, CityWindows
from tsjt_basicts.engine.dataset import as_basicts_batch
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss

METHOD = "ST-GFSL"
MODELS = ("GRU", "GWN")


@dataclass
class STGFSLConfig(FineTuneSettings):
    """Settings of an ST-GFSL run (defaults: the authors' ``config.yaml`` / ``main.py``; GWN sizes are ours)."""

    model: str = setting("GRU", "forecaster with generated parameters: 'GRU' or 'GWN'", one_of(*MODELS))
    hidden_dim: int = setting(16, "GRU hidden size / GWN residual channels", AT_LEAST_1)
    skip_dim: int = setting(64, "GWN skip and end channels", AT_LEAST_1)
    gwn_layers: int = setting(3, "GWN layers (dilations 1, 2, 4, ...)", AT_LEAST_1)
    diffusion_steps: int = setting(2, "GWN diffusion steps K per operator", AT_LEAST_1)
    meta_dim: int = setting(16, "size of a node's meta knowledge", AT_LEAST_1)
    meta_iterations: int = setting(200, "meta-iterations (authors: source_epochs)", AT_LEAST_1)
    task_batch: int = setting(2, "tasks (a random source city each) per meta-iteration", AT_LEAST_1)
    inner_steps: int = setting(5, "SGD steps on a task's support batch", AT_LEAST_1)
    inner_lr: float = setting(1e-2, "SGD learning rate of the inner steps", POSITIVE)
    meta_lr: float = setting(1e-2, "Adam learning rate of the meta-step", POSITIVE)
    weight_decay: float = setting(1e-2, "Adam weight decay (meta-step and fine-tuning)", NON_NEGATIVE)
    batch_size: int = setting(5, "windows per support / query / fine-tuning batch", AT_LEAST_1)
    reconstruction_weight: float = setting(1.5, "weight of the graph reconstruction loss", NON_NEGATIVE)
    finetune_lr: float = setting(1e-2, "Adam learning rate of fine-tuning", POSITIVE)

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (first-order MAML on the sources: inner steps on a
        support batch and one query batch per task; target fine-tuning)."""
        source_steps = self.meta_iterations * self.task_batch * self.inner_steps
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": source_steps, "source_samples": source_steps * self.batch_size
                + self.meta_iterations * self.task_batch * self.batch_size}


class NodeLinear(nn.Module):
    """Parameter generator: ``y = x W(k) + b(k)`` with W, b generated from each node's knowledge k."""

    def __init__(self, meta_dim: int, in_features: int, out_features: int):
        super().__init__()
        self.shape = (in_features, out_features)
        self.weight = nn.Linear(meta_dim, in_features * out_features)
        self.bias = nn.Linear(meta_dim, out_features)

    def forward(self, knowledge: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        # knowledge: [b n d], x: [b n ... in] -> [b n ... out]
        weight = self.weight(knowledge).unflatten(-1, self.shape)  # [b n in out]
        bias = self.bias(knowledge).reshape(*knowledge.shape[:2], *[1] * (x.dim() - 3), -1)
        return torch.einsum("bn...i,bnio->bn...o", x, weight) + bias


class MetaKnowledgeLearner(nn.Module):
    """``[b t n c]`` windows -> ``[b n meta_dim]`` meta knowledge from a temporal and a spatial view."""

    def __init__(self, input_len: int, channels: int, meta_dim: int):
        super().__init__()
        self.temporal = nn.GRU(channels, 1, batch_first=True)
        self.spatial = nn.Linear(input_len * channels, input_len)
        self.gate = nn.Parameter(torch.zeros(input_len))
        self.out = nn.Linear(input_len, meta_dim)

    def forward(self, x: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
        b, t, n, c = x.shape
        series = x.permute(0, 2, 1, 3).reshape(b * n, t, c)  # one sequence per (sample, node)
        temporal = self.temporal(series)[0].reshape(b, n, t)
        spatial = propagate(upstream, self.spatial(series.reshape(b, n, t * c)).transpose(0, 1)).transpose(0, 1)
        gate = torch.sigmoid(self.gate)
        return self.out(gate * spatial + (1 - gate) * temporal)  # [b n d]


class MetaGRU(nn.Module):
    """GRU with node-specific generated weights; per-step read-out, then input steps -> horizon."""

    def __init__(self, config: STGFSLConfig, input_len: int, output_len: int, channels: int):
        super().__init__()
        hidden, meta = config.hidden_dim, config.meta_dim
        self.gates = NodeLinear(meta, channels + hidden, 2 * hidden)
        self.candidate_x = NodeLinear(meta, channels, hidden)
        self.candidate_h = NodeLinear(meta, hidden, hidden)
        self.readout = nn.Linear(hidden, 1)
        self.horizon = nn.Linear(input_len, output_len)

    def forward(self, x: torch.Tensor, knowledge: torch.Tensor, operators: list[torch.Tensor]) -> torch.Tensor:
        # x: [b t n c] -> [b h n]
        h = x.new_zeros(*knowledge.shape[:2], self.candidate_h.shape[1])  # [b n hidden]
        steps = []
        for step in x.unbind(1):  # [b n c]
            reset, update = torch.sigmoid(self.gates(knowledge, torch.cat([step, h], -1))).chunk(2, -1)
            candidate = torch.tanh(self.candidate_x(knowledge, step) + reset * self.candidate_h(knowledge, h))
            h = update * h + (1 - update) * candidate
            steps.append(self.readout(h)[..., 0])
        return self.horizon(F.relu(torch.stack(steps, -1))).transpose(1, 2)


class MetaGWN(nn.Module):
    """Compact Graph WaveNet whose temporal and graph convolutions have generated node weights."""

    def __init__(self, config: STGFSLConfig, input_len: int, output_len: int, channels: int):
        super().__init__()
        width, meta, k = config.hidden_dim, config.meta_dim, config.diffusion_steps
        self.dilations = [2**i for i in range(config.gwn_layers)]
        self.receptive_field = 1 + sum(self.dilations)
        self.diffusion_steps = k
        self.start = NodeLinear(meta, channels, width)
        self.temporal = nn.ModuleList(NodeLinear(meta, 2 * width, 2 * width) for _ in self.dilations)
        self.graph = nn.ModuleList(NodeLinear(meta, (1 + 2 * k) * width, width) for _ in self.dilations)
        self.skip = nn.ModuleList(nn.Linear(width, config.skip_dim) for _ in self.dilations)
        self.end = nn.Sequential(nn.ReLU(), nn.Linear(config.skip_dim, config.skip_dim), nn.ReLU(),
                                 nn.Linear(config.skip_dim, output_len))

    def forward(self, x: torch.Tensor, knowledge: torch.Tensor, operators: list[torch.Tensor]) -> torch.Tensor:
        # x: [b t n c] -> [b h n]
        x = F.pad(x, (0, 0, 0, 0, max(0, self.receptive_field - x.shape[1]), 0)).transpose(1, 2)  # [b n t c]
        h = self.start(knowledge, x)
        skip = 0.0
        for dilation, temporal, graph, to_skip in zip(self.dilations, self.temporal, self.graph, self.skip):
            steps = h.shape[2] - dilation
            taps = torch.cat([h[:, :, :steps], h[:, :, dilation:]], -1)  # kernel 2: [b n t' 2w]
            filter_, gate = temporal(knowledge, taps).chunk(2, -1)
            z = torch.tanh(filter_) * torch.sigmoid(gate)  # [b n t' w]
            terms = diffusion_terms(z.transpose(0, 1), operators, self.diffusion_steps)  # node-first [n b t' w]
            h = graph(knowledge, torch.cat(terms, -1).transpose(0, 1)) + h[:, :, dilation:]
            skip = skip + to_skip(h[:, :, -1])
        return self.end(skip).transpose(1, 2)


class STGFSL(nn.Module):
    """Meta-knowledge learner + forecaster with generated parameters; returns (forecast, knowledge)."""

    def __init__(self, config: STGFSLConfig, input_len: int, output_len: int, channels: int = NUM_INPUT_FEATURES):
        super().__init__()
        self.learner = MetaKnowledgeLearner(input_len, channels, config.meta_dim)
        forecaster = MetaGRU if config.model == "GRU" else MetaGWN
        self.forecaster = forecaster(config, input_len, output_len, channels)

    def forward(self, inputs: torch.Tensor, graph: CityGraph) -> tuple[torch.Tensor, torch.Tensor]:
        # inputs: [b t n c] -> forecast [b h n] (z-scored), knowledge [b n d]
        graph.check_nodes(inputs.shape[2])
        operators = [graph.operator("forward", inputs.device), graph.operator("backward", inputs.device)]
        knowledge = self.learner(inputs, operators[0])
        return self.forecaster(inputs, knowledge, operators), knowledge


def reconstruction_loss(knowledge: torch.Tensor, adjacency: np.ndarray) -> torch.Tensor:
    """MSE between ``sigmoid(K K^T)`` ([b n n]) and the binarised ``[n n]`` adjacency of the city."""
    meta_graph = torch.sigmoid(knowledge @ knowledge.transpose(1, 2))
    edges = torch.from_numpy(adjacency > 0).to(meta_graph)
    return F.mse_loss(meta_graph, edges.expand_as(meta_graph))


def task_loss(model: STGFSL, windows: CityWindows, positions: np.ndarray, config: STGFSLConfig) -> torch.Tensor:
    """Masked MAE on the z-scored targets of windows ``positions`` plus the weighted reconstruction loss."""
    city = windows.city
    item = as_basicts_batch(windows.batch(positions), windows, windows.graph)
    forecast, knowledge = model(item["inputs"], item["graph"])
    prediction = masked_mae_loss(forecast, item["targets"], item["targets_mask"])
    return prediction + config.reconstruction_weight * reconstruction_loss(knowledge, city.adjacency)


def adapted_gradients(model: STGFSL, windows: CityWindows, config: STGFSLConfig, rng: np.random.Generator) -> list:
    """FOMAML on one task: SGD on a support batch, then the query gradient at the adapted parameters."""
    support, query = rng.permutation(len(windows))[: 2 * config.batch_size].reshape(2, -1)
    learner = copy.deepcopy(model)
    optimizer = torch.optim.SGD(learner.parameters(), lr=config.inner_lr)
    for _ in range(config.inner_steps):
        optimizer.zero_grad()
        task_loss(learner, windows, support, config).backward()
        optimizer.step()
    return torch.autograd.grad(task_loss(learner, windows, query, config), list(learner.parameters()))


def meta_train(model: STGFSL, sources: list[CityWindows], config: STGFSLConfig, rng: np.random.Generator) -> None:
    """First-order MAML over the source cities: one Adam step per meta-iteration on the mean task gradient."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.meta_lr, weight_decay=config.weight_decay)
    model.train()
    for _ in bar(range(config.meta_iterations), config.meta_iterations, f"{METHOD} meta-training"):
        tasks = [adapted_gradients(model, sources[rng.integers(len(sources))], config, rng)
                 for _ in range(config.task_batch)]
        for parameter, *grads in zip(model.parameters(), *tasks):
            parameter.grad = torch.stack(grads).mean(0)
        optimizer.step()


def finetune(model: STGFSL, windows: CityWindows, config: STGFSLConfig, rng: np.random.Generator,
             selector: BestOnValidation) -> CurveLog:
    """``finetune_steps`` Adam steps of ``batch_size`` shuffled few-shot windows (same loss); returns the curve."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.finetune_lr, weight_decay=config.weight_decay)
    model.train()
    curve = CurveLog(config.finetune_steps)
    batches = finetune_batches(np.arange(len(windows)), config.finetune_steps, config.batch_size, rng)
    for step, positions in enumerate(bar(batches, config.finetune_steps, f"{METHOD} fine-tuning"), 1):
        optimizer.zero_grad()
        loss = task_loss(model, windows, positions, config)
        loss.backward()
        optimizer.step()
        curve.add(loss)
        selector.check(step)
    return curve


def evaluate(model: STGFSL, windows: CityWindows) -> MetricAccumulator:
    """Metrics of every window in the city's units."""
    model.eval()
    graph = windows.graph
    return score_windows(windows, lambda batch, _: model(batch.inputs, graph)[0], batch_size=64)


def check_sources(data: TransferData, config: STGFSLConfig) -> None:
    """Every source city must fill a support and a query batch of ``batch_size`` windows each."""
    for windows in data.sources:
        if len(windows) < 2 * config.batch_size:
            raise DataError(
                f"source {windows.city.name!r} has {len(windows)} windows, fewer than a support and a query batch "
                f"(2 x batch_size = {2 * config.batch_size}); lower STGFSLConfig.batch_size"
            )


@register_baseline(METHOD, STGFSLConfig, backbones=MODELS, backbone_field="model", presets={
    "paper": {}, "cpu": {"meta_iterations": 50}, "smoke": {"meta_iterations": 2, "hidden_dim": 8, "skip_dim": 16},
})
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: STGFSLConfig | None = None,
    device: str = "cpu",
) -> dict:
    """ST-GFSL on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/ST-GFSL_<model>/<task>/...``)."""
    config = config or STGFSLConfig()

    def train_and_test(result: ResultFile, data: TransferData, rng: np.random.Generator) -> dict:
        model = STGFSL(config, data.protocol.input_len, data.protocol.output_len).to(device)
        return meta_learn_and_test(result, config, data, model, rng, meta_train, finetune, evaluate)

    return trained_run(METHOD, task, seed, protocol, out_root, data_root, config, device, train_and_test,
                       config.model, lambda data: check_sources(data, config))


def main(argv: list[str] | None = None) -> int:
    cli = parser("STGFSL", trained=True)
    cli.add_argument("--model", default="GRU", choices=MODELS, help="forecaster with generated parameters")
    return trained_main(cli, argv, run, lambda args: STGFSLConfig(model=args.model, **protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
