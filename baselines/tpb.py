"""TPB: a traffic pattern bank of the source cities queried by a few-shot target forecaster.

Liu, Zheng, Zhang, Ma, Wu & Xu, "Cross-city Few-Shot Traffic Forecasting via Traffic Pattern
Bank", CIKM 2023. Three stages:

1. **Pre-training** (source cities): each node's recent history, ``history_patches`` patches of
   ``patch_len`` steps of z-scored value, is embedded patch by patch by a transformer encoder
   trained to reconstruct randomly masked patches (``mask_ratio``; masked MAE).
2. **Pattern bank**: the L2-normalised embedding of the last patch of source segments is
   clustered by k-means (ours, k-means++ seeding) into ``num_patterns`` patterns; the keys are the
   cluster centres, the values the mean patch that follows the members (their "future").
3. **Few-shot forecaster** (target only): the frozen encoder embeds each node's history; a
   learned projection of that query attends over the keys (scaled dot product, ``top_k`` kept);
   the retrieved value mix, a node-level meta feature of ``patch_len`` channels repeated over the
   input steps, is appended to the 3 input channels of a registered backbone (default GWN,
   ``in_channels = 3 + patch_len``) trained with masked MAE on z-scored targets.

History: the last ``history_patches x patch_len`` steps ending with the window's last input
step. Target training windows whose history would start before the few-shot range are dropped
(nothing is clipped or padded), so training reads only few-shot steps. Test windows, all of the
protocol's, read their history from the observations just before them (past data at forecast
time); a source segment lies wholly inside its city's series.

Deviations from the paper / authors' code:
    * History of a few patches (default 4 x 12 steps) instead of one day (288 steps): a day
      would cost a third of a 3-day budget's windows; no multi-day/weekly patterns.
    * BERT-style masking (the encoder sees a mask token at masked patches) and a linear decoder
      instead of the TSFormer masked autoencoder; one small encoder for all source cities.
    * Bank values are the mean following patch of each cluster (the authors' keys and values are
      the cluster centres with a learned query matrix); Euclidean k-means on unit vectors stands
      in for cosine k-means; ``max_segments`` source segments (random) are used, as the authors
      subsample 10% before clustering.
    * No Reptile meta-learning on the sources and no graph reconstruction from patterns: the
      backbone sees the target's road graph and is trained on the target's few-shot windows only;
      the meta feature enters as input channels instead of an FC fusion after the ST model.
    * Scored by the shared protocol (6 steps, masked metrics in city units), not 12 steps.
"""
from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from baselines.checks import FineTuneSettings, AT_LEAST_1, OPEN_UNIT, POSITIVE, Rule, at_least, check_backbone
from baselines.checks import setting
from baselines.registry import ANY_BACKBONE, register_baseline
from baselines.cli import parser, protocol_options, trained_main
from baselines.common import BestOnValidation, TransferData, finetune_and_test, finetune_batches, score_windows
from baselines.common import trained_run
from baselines.records import ResultFile
from baselines.progress import bar, phase
from baselines.long_history import HISTORY_PATCHES, PATCH_LEN, fitting_positions, window_history
from tsjt_basicts.backbones import CityGraph, build_backbone
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.split import Protocol
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss

logger = logging.getLogger(__name__)
METHOD = "TPB"
EVEN = Rule(lambda value: value >= 2 and value % 2 == 0, "even and >= 2 (the encoder has 2 attention heads)")
FIXED_BACKBONE_FIELDS = ("in_channels", "input_len", "output_len")  # set by TPB from the protocol

@dataclass
class TPBConfig(FineTuneSettings):
    """TPB settings (the seed is ``run``'s argument)."""

    patch_len: int = setting(PATCH_LEN, "steps per patch (one input window)", AT_LEAST_1)
    history_patches: int = setting(HISTORY_PATCHES, "patches of history ending with the window's input", at_least(2))
    embed_dim: int = setting(32, "patch embedding size of the encoder", EVEN)
    pretrain_epochs: int = setting(10, "masked-reconstruction epochs on the sources", AT_LEAST_1)
    pretrain_batch_size: int = setting(256, "source segments per pre-training step", AT_LEAST_1)
    max_segments: int = setting(20000, "random source segments for pre-training and the bank", AT_LEAST_1)
    mask_ratio: float = setting(0.5, "share of patches masked (at least one, not all)", OPEN_UNIT)
    num_patterns: int = setting(32, "K: k-means clusters = bank entries", AT_LEAST_1)
    kmeans_iters: int = setting(50, "Lloyd iterations of k-means", AT_LEAST_1)
    top_k: int = setting(5, "bank entries each query keeps (at most num_patterns)", AT_LEAST_1)
    backbone: str = setting("GWN", "registered backbone")
    backbone_config: dict = field(default_factory=dict, metadata={"help": "backbone fields (in_channels is set)"})
    lr: float = setting(1e-3, "Adam learning rate (pre-training and target)", POSITIVE)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        super().__post_init__()
        check_backbone(owner, self.backbone, self.backbone_config, fixed=FIXED_BACKBONE_FIELDS)
        if self.top_k > self.num_patterns:
            raise ConfigError(f"{owner}.top_k ({self.top_k}) must be at most num_patterns ({self.num_patterns})")
        if self.max_segments < self.num_patterns:
            raise ConfigError(
                f"{owner}.max_segments ({self.max_segments}) must be at least num_patterns ({self.num_patterns})"
            )

    def compute(self) -> dict[str, int]:
        """Optimizer steps and windows of each phase (source pre-training: at most, on ``max_segments``)."""
        source_steps = self.pretrain_epochs * -(-self.max_segments // self.pretrain_batch_size)
        return {"target_steps": self.finetune_steps, "target_samples": self.finetune_steps * self.batch_size,
                "source_steps": source_steps, "source_samples": self.pretrain_epochs * self.max_segments}

    @property
    def span(self) -> int:
        return self.patch_len * self.history_patches


class PatchEncoder(nn.Module):
    """Transformer over the patches of a segment; a linear head reconstructs masked patches."""

    def __init__(self, config: TPBConfig):
        super().__init__()
        self.patch_len = config.patch_len
        self.embed = nn.Linear(config.patch_len, config.embed_dim)
        self.position = nn.Parameter(0.02 * torch.randn(config.history_patches, config.embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(config.embed_dim))
        layer = nn.TransformerEncoderLayer(config.embed_dim, 2, 2 * config.embed_dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(config.embed_dim, config.patch_len)

    def forward(self, segments: torch.Tensor, masked: torch.Tensor | None = None) -> torch.Tensor:
        # segments: [s, p*l] -> embeddings [s p d]; masked: [s p] bool
        tokens = self.embed(segments.unflatten(-1, (-1, self.patch_len)))
        if masked is not None:
            tokens = torch.where(masked[..., None], self.mask_token, tokens)
        return self.encoder(tokens + self.position)

    def reconstruction_loss(self, segments: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        patches = segments.unflatten(-1, (-1, self.patch_len))
        error = (self.head(self(segments, masked)) - patches).abs().mean(-1)
        return (error * masked).sum() / masked.sum()


def random_masks(count: int, config: TPBConfig, generator: torch.Generator) -> torch.Tensor:
    """``[count, history_patches]``: ``mask_ratio`` of each segment's patches masked (at least one, never all)."""
    hidden = min(config.history_patches - 1, max(1, round(config.mask_ratio * config.history_patches)))
    ranks = torch.rand(count, config.history_patches, generator=generator).argsort(-1).argsort(-1)
    return ranks < hidden


def epoch_chunks(count: int, config: TPBConfig, generator: torch.Generator) -> Iterator[tuple[int, torch.Tensor]]:
    """``(epoch, segment indices)`` of every pre-training step: each epoch a fresh permutation in batches."""
    for epoch in range(config.pretrain_epochs):
        for chunk in torch.randperm(count, generator=generator).split(config.pretrain_batch_size):
            yield epoch, chunk


def pretrain(
    encoder: PatchEncoder, segments: torch.Tensor, config: TPBConfig, generator: torch.Generator
) -> list[float]:
    """Masked-patch reconstruction on source ``segments`` [S, span]; the mean loss per epoch."""
    optimizer = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    totals = [0.0] * config.pretrain_epochs
    steps = config.pretrain_epochs * -(-len(segments) // config.pretrain_batch_size)
    for epoch, chunk in bar(epoch_chunks(len(segments), config, generator), steps, f"{METHOD} pre-training"):
        masked = random_masks(len(chunk), config, generator).to(segments.device)
        loss = encoder.reconstruction_loss(segments[chunk], masked)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        totals[epoch] += loss.item() * len(chunk)
    return [total / len(segments) for total in totals]


def kmeans(points: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means with k-means++ seeding: centres [k, D] and labels [S] of ``points`` [S, D]."""
    if not 1 <= k <= len(points):
        raise ValueError(f"k-means needs 1 <= k <= {len(points)} points, got k={k}")
    centres = points[torch.randint(len(points), (1,), generator=generator)]
    while len(centres) < k:
        nearest = torch.cdist(points, centres).min(1).values.square()
        pick = torch.multinomial(nearest.cpu() + 1e-12, 1, generator=generator)  # the CPU generator draws
        centres = torch.cat([centres, points[pick]])
    for _ in range(iters):
        labels = torch.cdist(points, centres).argmin(1)
        counts = torch.bincount(labels, minlength=k)[:, None]
        sums = torch.zeros_like(centres).index_add_(0, labels, points)
        updated = torch.where(counts > 0, sums / counts.clamp_min(1), centres)  # an empty cluster keeps its centre
        if torch.equal(updated, centres):
            break
        centres = updated
    return centres, torch.cdist(points, centres).argmin(1)


def query_embedding(encoder: PatchEncoder, history: torch.Tensor) -> torch.Tensor:
    """Unit-norm embedding of the last patch of each history [..., span] -> [..., D]."""
    flat = encoder(history.reshape(-1, history.shape[-1]))[:, -1]
    return nn.functional.normalize(flat, dim=-1).reshape(*history.shape[:-1], -1)


@torch.no_grad()
def build_bank(
    encoder: PatchEncoder, segments: torch.Tensor, futures: torch.Tensor, config: TPBConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys [K, D] (cluster centres of the segments' embeddings) and values [K, patch_len] (mean next patch)."""
    keys, labels = kmeans(query_embedding(encoder, segments), config.num_patterns, config.kmeans_iters, generator)
    counts = torch.bincount(labels, minlength=len(keys)).clamp_min(1)[:, None]
    return keys, futures.new_zeros(len(keys), futures.shape[1]).index_add_(0, labels, futures) / counts


class BankQuery(nn.Module):
    """Attention of projected queries over the bank keys, ``top_k`` entries kept, values mixed."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, top_k: int):
        super().__init__()
        if not 1 <= top_k <= len(keys):
            raise ValueError(f"top_k must lie in [1, {len(keys)}] (the bank size), got {top_k}")
        self.register_buffer("keys", keys)
        self.register_buffer("values", values)
        self.top_k = top_k
        self.project = nn.Linear(keys.shape[1], keys.shape[1])
        with torch.no_grad():  # start from plain similarity to the keys
            self.project.weight.copy_(torch.eye(keys.shape[1]))
            self.project.bias.zero_()

    def weights(self, queries: torch.Tensor) -> torch.Tensor:
        """[..., D] -> [..., K] softmax weights, zero outside each query's ``top_k`` keys."""
        scores = self.project(queries) @ self.keys.T * math.sqrt(self.keys.shape[1])
        kept = scores.topk(self.top_k, dim=-1).indices
        blocked = torch.full_like(scores, -math.inf).scatter(-1, kept, 0.0)
        return torch.softmax(scores + blocked, dim=-1)

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        return self.weights(queries) @ self.values


class TPBForecaster(nn.Module):
    """Frozen patch encoder + bank query -> meta feature appended to the backbone's inputs."""

    def __init__(self, encoder: PatchEncoder, query: BankQuery, config: TPBConfig, protocol: Protocol):
        super().__init__()
        self.encoder = encoder.requires_grad_(False)
        self.query = query
        self.backbone = build_backbone(
            config.backbone, **{**config.backbone_config, "in_channels": 3 + config.patch_len,
                                "input_len": protocol.input_len, "output_len": protocol.output_len},
        )

    def forward(self, inputs: torch.Tensor, history: torch.Tensor, graph: CityGraph) -> torch.Tensor:
        # inputs: [b l n 3]; history: [b n span] -> z-scored forecast [b h n]
        with torch.no_grad():
            queries = query_embedding(self.encoder, history)
        meta = self.query(queries)[:, None].expand(-1, inputs.shape[1], -1, -1)  # [b l n patch_len]
        return self.backbone(torch.cat([inputs, meta], dim=-1), graph)[..., 0]


def source_segments(windows: CityWindows, config: TPBConfig, count: int, rng: np.random.Generator) -> torch.Tensor:
    """``count`` random (node, start) segments of ``span + patch_len`` z-scored steps, starts every patch."""
    values = windows.features[:, :, 0]  # [t n]
    starts = np.arange(0, values.shape[0] - config.span - config.patch_len + 1, config.patch_len)
    if len(starts) == 0:
        length = config.span + config.patch_len
        raise DataError(f"source {windows.city.name!r} is shorter than one segment ({length} steps)")
    pairs = rng.choice(len(starts) * values.shape[1], size=min(count, len(starts) * values.shape[1]), replace=False)
    steps = torch.from_numpy(starts[pairs // values.shape[1]])[:, None] + torch.arange(config.span + config.patch_len)
    return values[steps, torch.from_numpy(pairs % values.shape[1])[:, None]]


def train_forecaster(
    model: TPBForecaster, windows: CityWindows, positions: np.ndarray, config: TPBConfig, generator: torch.Generator,
    selector: BestOnValidation,
) -> CurveLog:
    """Masked MAE on z-scored targets over the few-shot windows at ``positions``; returns the loss curve."""
    graph = windows.graph
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.lr)
    model.train()
    rng = np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator)))
    curve = CurveLog(config.finetune_steps)
    batches = finetune_batches(positions, config.finetune_steps, config.batch_size, rng)
    for step, chunk in enumerate(bar(batches, config.finetune_steps, f"{METHOD} fine-tuning"), 1):
        batch = windows.batch(chunk)
        prediction = model(batch.inputs, window_history(windows, chunk, config.span), graph)
        targets = torch.where(batch.mask, windows.scaler.transform(batch.targets), 0.0)
        loss = masked_mae_loss(prediction, targets, batch.mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.add(loss)
        selector.check(step)
    return curve


def evaluate(model: TPBForecaster, windows: CityWindows, config: TPBConfig) -> MetricAccumulator:
    """Every test window, scored in the city's units (each with its history patches)."""
    model.eval()
    graph = windows.graph
    history = lambda positions: window_history(windows, positions, config.span)  # noqa: E731
    return score_windows(windows, lambda batch, positions: model(batch.inputs, history(positions), graph),
                         batch_size=config.batch_size)


@register_baseline(METHOD, TPBConfig, backbones=ANY_BACKBONE, presets={
    "paper": {}, "cpu": {"pretrain_epochs": 3, "max_segments": 6000},
    "smoke": {"embed_dim": 8, "pretrain_epochs": 1, "max_segments": 500, "num_patterns": 4, "top_k": 2, "kmeans_iters": 5},
})
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    config: TPBConfig | None = None,
    device: str = "cpu",
) -> dict:
    """TPB on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/TPB_<backbone>/<task>/...``)."""
    config = config or TPBConfig()

    def check(data: TransferData) -> None:
        if len(fitting_positions(data.target_train, data.target_train_steps, config.span)) == 0:
            raise DataError(f"no few-shot window has {config.span} steps of history in {data.target_train_steps}; "
                            "lower TPBConfig.history_patches or patch_len")

    def train_and_test(result: ResultFile, data: TransferData, rng: np.random.Generator) -> dict:
        generator = torch.Generator().manual_seed(seed)
        positions = fitting_positions(data.target_train, data.target_train_steps, config.span)
        per_source = -(-config.max_segments // len(data.sources))
        pool = torch.cat([source_segments(windows, config, per_source, rng) for windows in data.sources])
        if len(pool) < config.num_patterns:
            raise DataError(f"the sources hold {len(pool)} segments, fewer than num_patterns ({config.num_patterns}); "
                            "lower TPBConfig.num_patterns or history_patches")
        encoder = PatchEncoder(config).to(device)
        segments = f"{len(pool)} segments of {len(data.sources)} source cities"
        with phase(logger, METHOD, "pre-training", f"{config.pretrain_epochs} epochs on {segments}"):
            pretrain(encoder, pool[:, : config.span], config, generator)
        with phase(logger, METHOD, "pattern bank", f"k-means of {segments} into {config.num_patterns} patterns"):
            keys, values = build_bank(encoder, pool[:, : config.span], pool[:, config.span :], config, generator)
        model = TPBForecaster(encoder, BankQuery(keys, values, config.top_k), config, data.protocol).to(device)
        return finetune_and_test(
            result, config, data, model,
            lambda selector: train_forecaster(model, data.target_train, positions, config, generator, selector),
            lambda windows: evaluate(model, windows, config),
        )

    return trained_run(METHOD, task, seed, protocol, out_root, data_root, config, device, train_and_test,
                       config.backbone, check)


def main(argv: list[str] | None = None) -> int:
    return trained_main(parser(METHOD, trained=True), argv, run, lambda args: TPBConfig(**protocol_options(args)))


if __name__ == "__main__":
    sys.exit(main())
