"""Windows that read a history longer than their input: the one rule of every baseline that does (TPB,
TransGTR, STGP).

A window's history is the ``span`` steps ending with its last input step (default 4 patches of 12
steps = 48 steps, four times the input). Target *training* windows whose history would start
before the few-shot range are dropped (:func:`fitting_positions`: nothing is clipped or padded),
so training reads only few-shot steps; test windows read the observations just before them (past
data at forecast time). With 3 few-shot days a longer history, e.g. the week of TransGTR or the day
of STGP and TPB, would cost most of the training windows.
"""
from __future__ import annotations

import numpy as np
import torch

from tsjt_basicts.data.city import DataError
from tsjt_basicts.data.split import StepRange
from tsjt_basicts.data.windows import CityWindows

PATCH_LEN = 12  # steps per patch: one input window
HISTORY_PATCHES = 4  # patches of history ending with the window's input


def fitting_positions(windows: CityWindows, steps: StepRange, span: int) -> np.ndarray:
    """Positions of the windows whose history (``span`` steps up to the last input) and future lie in ``steps``."""
    first_read = windows.starts + windows.input_len - span
    last_read = windows.starts + windows.input_len + windows.output_len - 1
    return np.flatnonzero((first_read >= steps.start) & (last_read < steps.stop))


def window_history(windows: CityWindows, positions: np.ndarray, span: int) -> torch.Tensor:
    """``[B, N, span]`` z-scored values of the ``span`` steps ending with each window's last input."""
    ends = torch.from_numpy(windows.starts[positions] + windows.input_len)
    if (ends < span).any():
        raise DataError(f"city {windows.city.name!r}: a window's history of {span} steps starts before step 0")
    return windows.features[ends[:, None] - span + torch.arange(span), :, 0].transpose(1, 2)
