"""TransGTR's four training phases: masked-autoencoder pre-training and feature distillation on the
sources, joint source training of the graph generator and Graph WaveNet, target fine-tuning."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from baselines.common import BestOnValidation, finetune_batches, score_windows
from baselines.long_history import fitting_positions, window_history
from baselines.progress import bar
from baselines.transgtr.model import (PatchMAE, ShortFeatureNet, TransGTRForecaster, coral_loss, degree_penalty,
                                      masked_reconstruction_loss, split_patches)
from tsjt_basicts.curves import CurveLog
from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.metrics import MetricAccumulator, masked_mae_loss

if TYPE_CHECKING:
    from baselines.transgtr.baseline import TransGTRConfig

METHOD = "TransGTR"


def optimise(parameters: Iterable[nn.Parameter], steps: int, loss_of_step: Callable[[int], torch.Tensor],
             config: TransGTRConfig, label: str, selector: BestOnValidation | None = None) -> CurveLog:
    """``steps`` Adam steps (gradient norm clipped) of ``loss_of_step(step)`` (1-based); the loss curve."""
    parameters = list(parameters)
    optimizer = torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    curve = CurveLog(steps)
    for step in bar(range(1, steps + 1), steps, f"{METHOD} {label}"):
        loss = loss_of_step(step)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, config.clip_norm)
        optimizer.step()
        curve.add(loss)
        if selector is not None:
            selector.check(step)
    return curve


def history_positions(sources: list[CityWindows], span: int) -> list[np.ndarray]:
    """Per source, the windows with ``span`` steps of history inside the city's series."""
    positions = [fitting_positions(windows, windows.train_steps, span) for windows in sources]
    for windows, found in zip(sources, positions):
        if len(found) == 0:
            raise DataError(f"source {windows.city.name!r} has no window with {span} steps of history; "
                            "lower TransGTRConfig.history_patches")
    return positions


def history_observed(windows: CityWindows, positions: np.ndarray, span: int) -> torch.Tensor:
    """``[B, N, span]`` observed flags of the steps :func:`window_history` reads."""
    ends = torch.from_numpy(windows.starts[positions] + windows.input_len)
    return windows.mask[ends[:, None] - span + torch.arange(span)].transpose(1, 2)


def draw(positions: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` of ``positions`` at random (all of them when fewer)."""
    return rng.choice(positions, min(count, len(positions)), replace=False)


def pretrain_mae(mae: PatchMAE, sources: list[CityWindows], positions: list[np.ndarray], config: TransGTRConfig,
                 rng: np.random.Generator, generator: torch.Generator) -> CurveLog:
    """Masked reconstruction of every node's long history, one source city per step in turn."""
    mae.train()

    def loss(step: int) -> torch.Tensor:
        windows, pool = sources[step % len(sources)], positions[step % len(sources)]
        chunk = draw(pool, config.source_batch_size, rng)
        segments = window_history(windows, chunk, config.span).flatten(0, 1)  # [b*n span]
        observed = mae.patches(history_observed(windows, chunk, config.span).flatten(0, 1))
        visible, masked = split_patches(len(segments), config.history_patches, config.mask_ratio, generator)
        prediction = mae.reconstruct(segments, visible.to(segments.device))
        return masked_reconstruction_loss(prediction, mae.patches(segments), masked.to(segments.device), observed)

    return optimise(mae.parameters(), config.pretrain_steps, loss, config, "MAE pre-training")


def distil(student: ShortFeatureNet, teacher: PatchMAE, sources: list[CityWindows], positions: list[np.ndarray],
           config: TransGTRConfig, rng: np.random.Generator) -> CurveLog:
    """Mean squared gap between the student's features of a window's input and the frozen teacher's
    encoding of the last patch of its long history (the same steps), on the sources."""
    teacher.eval().requires_grad_(False)
    student.train()

    def loss(step: int) -> torch.Tensor:
        windows, pool = sources[step % len(sources)], positions[step % len(sources)]
        chunk = draw(pool, config.source_batch_size, rng)
        history = window_history(windows, chunk, config.span)  # [b n span]
        with torch.no_grad():
            taught = teacher.features(history.flatten(0, 1))[:, -1].unflatten(0, history.shape[:2])
        return (student(windows.batch(chunk).inputs) - taught).square().mean()

    return optimise(student.parameters(), config.distil_steps, loss, config, "distillation")


def forecast_terms(model: TransGTRForecaster, windows: CityWindows, chunk: np.ndarray,
                   config: TransGTRConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``(masked MAE on z-scored targets + degree_weight x degree penalty, node codes)`` of windows ``chunk``."""
    batch = windows.batch(chunk)
    forecast, edges, codes = model(batch.inputs, windows.graph)
    targets = torch.where(batch.mask, windows.scaler.transform(batch.targets), 0.0)
    loss = masked_mae_loss(forecast, targets, batch.mask)
    return loss + config.degree_weight * degree_penalty(edges, config.target_degree), codes


def train_on_sources(model: TransGTRForecaster, sources: list[CityWindows], target: CityWindows,
                     config: TransGTRConfig, rng: np.random.Generator) -> CurveLog:
    """Graph generator and Graph WaveNet on one source city per step in turn; CORAL (``coral_weight``)
    pulls the generator's node codes of the source batch towards those of a target batch (inputs only)."""
    model.train()

    def loss(step: int) -> torch.Tensor:
        windows = sources[step % len(sources)]
        chunk = draw(np.arange(len(windows)), config.source_batch_size, rng)
        forecast, codes = forecast_terms(model, windows, chunk, config)
        target_chunk = draw(np.arange(len(target)), config.source_batch_size, rng)
        _, target_codes = model.codes(target.batch(target_chunk).inputs)
        return forecast + config.coral_weight * coral_loss(codes.flatten(0, 1), target_codes.flatten(0, 1))

    trainable = [p for p in model.parameters() if p.requires_grad]
    return optimise(trainable, config.source_steps, loss, config, "source training")


def finetune(model: TransGTRForecaster, windows: CityWindows, config: TransGTRConfig, rng: np.random.Generator,
             selector: BestOnValidation) -> CurveLog:
    """``finetune_steps`` steps on the target's few-shot windows (the step picked by ``selector``)."""
    model.train()
    batches = iter(finetune_batches(np.arange(len(windows)), config.finetune_steps, config.batch_size, rng))
    trainable = [p for p in model.parameters() if p.requires_grad]
    step_loss = lambda _: forecast_terms(model, windows, next(batches), config)[0]  # noqa: E731
    return optimise(trainable, config.finetune_steps, step_loss, config, "fine-tuning", selector)


def evaluate(model: TransGTRForecaster, windows: CityWindows, batch_size: int) -> MetricAccumulator:
    """Every window scored in the city's units, with the generator's most likely graph (no sampling)."""
    model.eval()
    graph = windows.graph
    return score_windows(windows, lambda batch, _: model(batch.inputs, graph)[0], batch_size=batch_size)
