"""BasicTS task flow for batches that arrive normalised, masked and carrying their city's scale."""
from __future__ import annotations

from typing import Any

from basicts.runners.taskflow import BasicTSTaskFlow


class CrossCityTaskFlow(BasicTSTaskFlow):
    """Per-city scaling instead of BasicTS's one global scaler.

    The dataset already z-scores every city with its own training statistics and supplies the
    mask of observed values, so preprocessing has nothing to do; postprocessing (``rescale``)
    returns predictions and targets to the city's own units with the batch's ``scale``.
    """

    def preprocess(self, runner, data: dict[str, Any]) -> dict[str, Any]:
        return data

    def postprocess(self, runner, forward_return: dict[str, Any]) -> dict[str, Any]:
        if runner.cfg.rescale:
            mean, std = forward_return["scale"].to(forward_return["prediction"].device)
            forward_return["prediction"] = forward_return["prediction"] * std + mean
            forward_return["targets"] = forward_return["targets"] * std + mean
        return forward_return

    def get_weight(self, forward_return: dict[str, Any]) -> float:
        return forward_return["targets_mask"].sum().item()
