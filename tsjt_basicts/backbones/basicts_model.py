"""Any registered backbone as a plain BasicTS 1.1.0 forecasting model (one city, standard runner).

BasicTS calls ``model(config)`` once and then ``forward(inputs, inputs_timestamps)`` with
``inputs: [B, L, N]`` (already z-scored by its scaler) and ``inputs_timestamps: [B, L, K]``
(time of day, day of week, ... in [0, 1)); it expects ``[B, H, N]`` back. The wrapper stacks the
value with the first ``timestamp_channels`` timestamps into the backbones' ``[B, L, N, C]`` input
and loads the city's graph from an ``.npy`` file::

    cfg = BasicTSForecastingConfig(
        model=BasicTSBackbone,
        model_config=BasicTSBackboneConfig(backbone="GWN", adjacency_path="datasets/METR-LA/adj.npy",
                                           backbone_params={"num_nodes": 207}),
        dataset_name="METR-LA", input_len=12, output_len=12, use_timestamps=True, ...)
    BasicTSLauncher.launch_training(cfg)
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from basicts.configs import BasicTSModelConfig
from torch import nn

from tsjt_basicts.backbones.layers.graph import graph_for
from tsjt_basicts.backbones.registry import backbone_class, build_backbone

_SET_BY_WRAPPER = ("in_channels", "input_len", "output_len", "out_channels")


@dataclass
class BasicTSBackboneConfig(BasicTSModelConfig):
    """Model config for :class:`BasicTSBackbone` (``input_len``/``output_len`` come from the BasicTS config)."""

    backbone: str = field(default="GWN", metadata={"help": "registered backbone name (list_backbones())"})
    adjacency_path: str = field(default=None, metadata={"help": "[N, N] adjacency .npy file of the dataset's nodes"})
    backbone_params: dict = field(
        default_factory=dict, metadata={"help": "backbone config fields, e.g. {'num_nodes': 207} for GWN"}
    )
    input_len: int = field(default=None, metadata={"help": "input steps (filled from the BasicTS config)"})
    output_len: int = field(default=None, metadata={"help": "forecast steps (filled from the BasicTS config)"})
    timestamp_channels: int = field(
        default=2, metadata={"help": "leading timestamp features used as input channels (0: value only)"}
    )
    graph_layout: str = field(default="sparse", metadata={"help": "'sparse' or 'dense' graph operators"})


class BasicTSBackbone(nn.Module):
    """BasicTS-convention wrapper: ``[B, L, N]`` (+ timestamps ``[B, L, K]``) -> ``[B, H, N]``."""

    def __init__(self, config: BasicTSBackboneConfig):
        super().__init__()
        if not config.adjacency_path or not os.path.isfile(config.adjacency_path):
            raise ValueError(
                f"BasicTSBackboneConfig.adjacency_path must name an [N, N] .npy file, got {config.adjacency_path!r}"
            )
        if config.input_len is None or config.output_len is None:
            raise ValueError("BasicTSBackbone needs input_len and output_len (set them in the BasicTS config)")
        clash = sorted(set(config.backbone_params) & set(_SET_BY_WRAPPER))
        if clash:
            raise ValueError(
                f"backbone_params must not set {clash}: the wrapper sets them from input_len, output_len and "
                "timestamp_channels"
            )
        backbone_class(config.backbone)  # unknown name -> ValueError listing the known ones
        path = os.path.abspath(config.adjacency_path)
        self.graph = graph_for(np.load(path), key=f"basicts:{path}", layout=config.graph_layout)
        self.timestamp_channels = config.timestamp_channels
        self.backbone = build_backbone(
            config.backbone,
            in_channels=1 + config.timestamp_channels,
            input_len=config.input_len,
            output_len=config.output_len,
            out_channels=1,
            **config.backbone_params,
        )

    def forward(self, inputs: torch.Tensor, inputs_timestamps: torch.Tensor | None = None) -> torch.Tensor:
        # inputs: [b l n], inputs_timestamps: [b l k] -> [b h n]
        features = [inputs.unsqueeze(-1)]
        if self.timestamp_channels > 0:
            if inputs_timestamps is None or inputs_timestamps.shape[-1] < self.timestamp_channels:
                raise ValueError(
                    f"BasicTSBackbone uses {self.timestamp_channels} timestamp channels: set use_timestamps=True in "
                    "the BasicTS config (or timestamp_channels=0 in the model config)"
                )
            stamps = inputs_timestamps[..., : self.timestamp_channels].to(inputs.dtype)  # [b l k]
            features.append(stamps.unsqueeze(2).expand(-1, -1, inputs.shape[2], -1))
        history = torch.cat(features, dim=-1)  # [b l n 1+k]
        return self.backbone(history, self.graph).squeeze(-1)
