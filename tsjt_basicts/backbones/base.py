"""The contract every backbone follows: one config dataclass, one checked forward.

``forward(history [B, T_in, N, C_in], graph: CityGraph, learned_graph [B, N, N] | None)``
returns ``[B, T_out, N, C_out]``. No parameter depends on N (Graph WaveNet's optional single-city
node embeddings excepted), so one instance serves cities of different sizes.

A learned graph is a per-sample support whose rows sum to 1 (TSJT's A_K after
:class:`~tsjt_basicts.npm.PromptGraphSupport`); a backbone built with ``adaptive_graph=True``
applies it as Graph WaveNet applies its adaptive matrix, ``out_j = sum_i S[i, j] x_i``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import torch
from torch import nn

from tsjt_basicts.backbones.layers.graph import CityGraph
from tsjt_basicts.errors import ConfigError


@dataclass
class BackboneConfig:
    """Fields shared by every backbone; subclasses add theirs."""

    in_channels: int = field(
        default=3,
        metadata={"help": "input channels C_in: z-scored value, time of day, day of week (+ a prompt under TSJT)"},
    )
    input_len: int = field(default=12, metadata={"help": "input steps T_in"})
    output_len: int = field(default=6, metadata={"help": "forecast steps T_out"})
    out_channels: int = field(default=1, metadata={"help": "output channels C_out per node and step"})

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int) and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{type(self).__name__}.{f.name} must be an int, got {value!r}")
        self.require_at_least_1("in_channels", "input_len", "output_len", "out_channels")
        dropout = getattr(self, "dropout", 0.0)
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ConfigError(f"{type(self).__name__}.dropout must be in [0, 1), got {dropout!r}")

    def require_at_least_1(self, *names: str) -> None:
        """Refuse any of the int fields ``names`` below 1 (a layer of no width or depth)."""
        for name in names:
            if getattr(self, name) < 1:
                raise ConfigError(f"{type(self).__name__}.{name} must be >= 1, got {getattr(self, name)}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


class Backbone(nn.Module):
    """Base of the registered backbones: holds the config and checks inputs against it."""

    Config: ClassVar[type[BackboneConfig]] = BackboneConfig
    supports_learned_graph: ClassVar[bool] = False  # has an ``adaptive_graph`` switch for a learned support

    def __init__(self, config: BackboneConfig):
        super().__init__()
        if not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} takes a {self.Config.__name__}, got {type(config).__name__}")
        self.config = config

    @property
    def accepts_learned_graph(self) -> bool:
        """This instance takes a ``learned_graph`` (built with its learned-support weights)."""
        return self.supports_learned_graph and bool(getattr(self.config, "adaptive_graph", False))

    def check_inputs(self, history: torch.Tensor, graph: CityGraph, learned_graph: torch.Tensor | None) -> None:
        """Raise ``ValueError`` naming the problem when the inputs do not fit the config or each other
        (``TypeError`` when ``graph`` is not a :class:`CityGraph`)."""
        name, cfg = type(self).__name__, self.config
        if not isinstance(graph, CityGraph):
            raise TypeError(
                f"{name}: graph must be a CityGraph (graph_for(city.adjacency, city.name)), got {type(graph).__name__}"
            )
        if history.dim() != 4:
            raise ValueError(f"{name}: history must be [B, T_in, N, C_in], got shape {tuple(history.shape)}")
        _, steps, nodes, channels = history.shape
        if steps != cfg.input_len or channels != cfg.in_channels:
            raise ValueError(
                f"{name}: history is [B, {steps}, N, {channels}] but the model was built for input_len="
                f"{cfg.input_len}, in_channels={cfg.in_channels}; build it with the batch's sizes"
            )
        graph.check_nodes(nodes)
        if learned_graph is None:
            return
        if not self.accepts_learned_graph:
            why = "it was built with adaptive_graph=False" if self.supports_learned_graph else "it has no learned support"
            fix = "; or build it with adaptive_graph=True" if self.supports_learned_graph else ""
            raise ValueError(f"{name} does not take a learned graph ({why}); pass None{fix}")
        expected = (history.shape[0], nodes, nodes)
        if tuple(learned_graph.shape) != expected:
            raise ValueError(
                f"{name}: learned_graph must be [B, N, N] = {list(expected)}, got {list(learned_graph.shape)}"
            )
        # on a GPU this check would wait for the device every forward; a NaN graph there shows as a
        # diverged run at the runner's periodic parameter check instead
        if learned_graph.device.type == "cpu" and not torch.isfinite(learned_graph).all():
            raise ValueError(f"{name}: learned_graph holds NaN/inf values; check the module that produces it")

    @staticmethod
    def learned_operator(learned_graph: torch.Tensor | None) -> list[torch.Tensor]:
        """The learned support as an operator list (empty without one): node j gathers ``sum_i S[i, j] x_i``."""
        return [] if learned_graph is None else [learned_graph.transpose(1, 2)]

    def extra_repr(self) -> str:
        return repr(self.config)

    def forward(self, history: torch.Tensor, graph: CityGraph, learned_graph: torch.Tensor | None = None) -> Any:
        raise NotImplementedError
