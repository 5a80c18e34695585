"""STGP's samples: each window's history (:mod:`baselines.long_history`'s rule) and future cut into patches,
the random masks of pre-training and domain prompting, and the loss on masked patches only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from baselines.long_history import window_history
from tsjt_basicts.data.windows import CityWindows
from tsjt_basicts.metrics import masked_mae_loss


@dataclass(frozen=True)
class Segments:
    """A batch of windows as patch grids: ``history_steps`` steps of history, then ``output_len`` of future."""

    values: torch.Tensor  # [b n l] z-scored, 0 where unobserved (the future: 0 when not read)
    observed: torch.Tensor  # [b n l] bool
    hours: torch.Tensor  # [b p] long: hour of day of each patch's first step
    weekdays: torch.Tensor  # [b p] long: day of week of each patch's first step (0 when the city has none)


def window_segments(windows: CityWindows, positions: np.ndarray, history_steps: int, patch_len: int,
                    with_future: bool) -> Segments:
    """Windows ``positions`` as :class:`Segments`; ``with_future`` reads their targets (training windows only)."""
    history = window_history(windows, positions, history_steps)  # [b n s]
    ends = windows.starts[positions] + windows.input_len
    steps = torch.from_numpy(ends[:, None] - history_steps + np.arange(history_steps + windows.output_len))
    observed = windows.mask[steps].transpose(1, 2)  # [b n l]
    if with_future:
        batch = windows.batch(positions)
        future = torch.where(batch.mask, windows.scaler.transform(batch.targets), 0.0).transpose(1, 2)
    else:
        future = history.new_zeros(*history.shape[:2], windows.output_len)
        observed = observed.clone()
        observed[..., history_steps:] = False
    calendar = windows.features[steps[:, ::patch_len], 0, 1:]  # [b p 2]: time of day in [0, 1), weekday / 7
    hours = (calendar[..., 0] * 24).floor().long().clamp(0, 23)
    weekdays = (calendar[..., 1] * 7).round().long() % 7
    return Segments(torch.cat([history, future], dim=-1), observed, hours, weekdays)


def random_kept(count: int, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Sorted indices of the ``count - floor(ratio * count)`` tokens kept (at least one) of ``count``."""
    hidden = min(count - 1, int(ratio * count))
    return torch.randperm(count, generator=generator)[hidden:].sort().values


def hidden_grid(num_nodes: int, num_patches: int, kept_nodes: torch.Tensor, kept_patches: torch.Tensor) -> torch.Tensor:
    """``[n p]`` bool: True where a token was masked (not a kept patch of a kept node)."""
    kept = torch.zeros(num_nodes, num_patches, dtype=torch.bool, device=kept_nodes.device)
    kept[kept_nodes[:, None], kept_patches[None, :]] = True
    return ~kept


def masked_patch_loss(reconstruction: torch.Tensor, values: torch.Tensor, observed: torch.Tensor,
                      hidden: torch.Tensor) -> torch.Tensor:
    """Masked MAE of ``reconstruction`` [b n p l] against ``values`` [b n p*l] over the observed steps of
    the ``hidden`` [n p] patches only: kept patches never count (0 when nothing hidden is observed)."""
    patches = values.unflatten(-1, reconstruction.shape[-2:])
    weight = observed.unflatten(-1, reconstruction.shape[-2:]) & hidden[None, :, :, None].to(observed.device)
    return masked_mae_loss(reconstruction, patches, weight)
