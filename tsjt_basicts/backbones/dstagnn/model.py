"""DSTAGNN backbone: configuration, the STAG operators of a city, the model."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tsjt_basicts.backbones.base import Backbone, BackboneConfig
from tsjt_basicts.backbones.dstagnn.layers import DSTAGNNBlock
from tsjt_basicts.backbones.dstagnn.stag import city_stag_distances, nearest_neighbours
from tsjt_basicts.backbones.layers.graph import CityGraph, scaled_laplacian
from tsjt_basicts.backbones.registry import register_backbone
from tsjt_basicts.errors import ConfigError

CHEBYSHEV_GRAPHS = ("stag", "road")


@dataclass
class DSTAGNNConfig(BackboneConfig):
    """DSTAGNN settings; defaults follow the authors' PEMS configurations."""

    num_blocks: int = field(default=4, metadata={"help": "spatial-temporal attention blocks (nb_block)"})
    cheb_order: int = field(default=3, metadata={"help": "Chebyshev terms K, also the spatial attention heads"})
    channels: int = field(default=32, metadata={"help": "graph-conv and temporal-conv filters of every block"})
    d_model: int = field(default=512, metadata={"help": "width of a node's summary feeding spatial attention"})
    d_k: int = field(default=32, metadata={"help": "query/key/value width per attention head"})
    num_heads: int = field(default=3, metadata={"help": "temporal attention heads"})
    temporal_kernels: tuple[int, ...] = field(
        default=(3, 5, 7), metadata={"help": "kernel sizes of the gated temporal units (receptive fields)"}
    )
    end_channels: int = field(default=128, metadata={"help": "hidden width of the output layer"})
    neighbour_fraction: float = field(
        default=0.01, metadata={"help": "share of nodes kept as a node's STAG neighbours (at least one)"}
    )
    chebyshev_graph: str = field(
        default="stag",
        metadata={"help": "graph of the Chebyshev polynomials: 'stag' (the paper's) or 'road' (the city's graph)"},
    )
    dropout: float = field(default=0.05, metadata={"help": "dropout on the node summaries and temporal units"})
    adaptive_graph: bool = field(
        default=False, metadata={"help": "weights for a learned support (TSJT's A_K) in every graph conv"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least_1("num_blocks", "cheb_order", "channels", "d_model", "d_k", "num_heads", "end_channels")
        kernels = tuple(self.temporal_kernels) if isinstance(self.temporal_kernels, (tuple, list)) else ()
        if not kernels or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in kernels):
            raise ConfigError(f"DSTAGNNConfig.temporal_kernels must be positive ints, got {self.temporal_kernels!r}")
        if max(kernels) > self.input_len:
            raise ConfigError(
                f"DSTAGNNConfig: temporal kernel {max(kernels)} is longer than input_len={self.input_len}; "
                "use smaller temporal_kernels or a longer input"
            )
        self.temporal_kernels = kernels
        fraction = self.neighbour_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ConfigError(f"DSTAGNNConfig.neighbour_fraction must be in (0, 1], got {fraction!r}")
        if self.chebyshev_graph not in CHEBYSHEV_GRAPHS:
            raise ConfigError(
                f"DSTAGNNConfig.chebyshev_graph must be one of {CHEBYSHEV_GRAPHS}, got {self.chebyshev_graph!r}"
            )


def chebyshev_polynomials(laplacian: torch.Tensor, order: int) -> torch.Tensor:
    """``[K n n]``: ``T_0 = I``, ``T_1 = L``, ``T_k = 2 L T_{k-1} - T_{k-2}``."""
    polynomials = [torch.eye(len(laplacian), dtype=laplacian.dtype, device=laplacian.device), laplacian]
    while len(polynomials) < order:
        polynomials.append(2.0 * laplacian @ polynomials[-1] - polynomials[-2])
    return torch.stack(polynomials[:order])


def city_operators(graph: CityGraph, config: DSTAGNNConfig, device: torch.device,
                   dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The city's Chebyshev polynomials ``[K n n]`` and attention prior ``[n n]`` (STAG neighbours and
    self loops), cached on the graph per setting, device and dtype."""
    key = f"dstagnn_operators:{config.chebyshev_graph}:{config.cheb_order}:{config.neighbour_fraction}:{device}:{dtype}"

    def build(g: CityGraph) -> tuple[torch.Tensor, torch.Tensor]:
        neighbours = nearest_neighbours(city_stag_distances(g), config.neighbour_fraction)
        prior = torch.from_numpy(np.maximum(neighbours, np.eye(len(neighbours)))).to(device, dtype)
        if config.chebyshev_graph == "stag":
            laplacian = torch.from_numpy(scaled_laplacian(neighbours)).to(device, dtype)
        else:
            laplacian = g.operator("chebyshev", device, dtype)
            laplacian = laplacian.to_dense() if laplacian.layout == torch.sparse_csr else laplacian
        return chebyshev_polynomials(laplacian, config.cheb_order), prior

    return graph.derived(key, build)


@register_backbone("DSTAGNN")
class DSTAGNN(Backbone):
    """Dynamic Spatial-Temporal Aware Graph Neural Network (Lan, Ma, Huang, Wang, Yang & Li, ICML 2022).

    ``num_blocks`` spatial-temporal attention blocks: temporal multi-head attention (scores carried
    from block to block), a linear summary of each node's attended steps, spatial attention with one
    head per Chebyshev term, Chebyshev graph conv of order K=3 on the STAG modulated by that
    attention, gated temporal units of kernels 3/5/7 merged back to ``input_len`` steps, residual
    connection, ReLU and layer norm. The blocks' outputs are concatenated over time and mapped by
    two linear layers (128 hidden, no activation between, as in the original) to every horizon.
    The STAG (:mod:`~tsjt_basicts.backbones.dstagnn.stag`) comes from the city's training history
    only (``graph.history``), once per city. Defaults: the authors' PEMS configurations (4 blocks,
    K=3, 32 filters, d_model 512, d_k 32, 3 heads, top 1% neighbours, dropout 0.05).

    Deviations from the paper / authors' code (so that no weight depends on N):
        * Temporal attention projects each node's channels (d_model = channels) and scores two
          steps by the mean over nodes of the per-node scaled dot products: one map per sample and
          head shared by all nodes, as the original's, whose d_model = N embeds a step by all N
          nodes' values. Scores are ``[B, heads, T, T]`` (one set per input feature originally,
          ``[B, F, heads, T, T]``); its residual layer norm is over channels instead of over N.
        * The step embedding is ``[T, C_in]`` (``[T, N]`` originally), normalised over channels.
        * The node-position embedding before spatial attention (``[N, d_model]``) is dropped; the
          summary keeps its layer norm and dropout.
        * The learned ``N x N`` mask added to spatial attention on the STRG is one learned scalar per
          Chebyshev term times the STAG neighbours and self loops (the original's binarised STRG).
        * STAG neighbours: ``max(1, int(N * 1%))`` per node (the original keeps ``int(N * 1%)``, none
          below 100 nodes), self excluded; unobserved values are filled as the STAG module says.
        * Chebyshev polynomials of the normalised Laplacian of the symmetrised STAG (this project's
          ``scaled_laplacian``); the original uses ``D - W`` of the directed top-k matrix.
          ``chebyshev_graph="road"`` uses the city's road graph instead (``graph.operator("chebyshev")``).
        * The first block's special cases (step embedding, 1x1 residual projection, no residual
          around its temporal units) follow its position, not a 1-feature input: inputs carry
          ``in_channels`` features (value, time of day, day of week).
        * ``adaptive_graph=True`` (TSJT) adds a learned per-sample support as one more one-hop term
          of every graph conv (left out when none is given at call time).
        * Initialisation is PyTorch's default (Xavier for the graph-conv weight); the original draws
          every matrix Xavier-uniform and every bias uniform(0, 1). The temporal units' stride is 1
          (the only value the authors' script uses).
    """

    Config = DSTAGNNConfig
    supports_learned_graph = True

    def __init__(self, config: DSTAGNNConfig):
        super().__init__(config)
        c = config
        self.blocks = nn.ModuleList(
            DSTAGNNBlock(c.in_channels if i == 0 else c.channels, c.channels, c.input_len, c.d_model, c.d_k,
                         c.num_heads, c.cheb_order, c.temporal_kernels, c.dropout, int(c.adaptive_graph), i == 0)
            for i in range(c.num_blocks)
        )
        self.head_hidden = nn.Linear(c.num_blocks * c.input_len * c.channels, c.end_channels)
        self.head_out = nn.Linear(c.end_channels, c.output_len * c.out_channels)

    def forward(
        self, history: torch.Tensor, graph: CityGraph, learned_graph: torch.Tensor | None = None
    ) -> torch.Tensor:
        # history: [b t n c] -> [b t_out n c_out]
        self.check_inputs(history, graph, learned_graph)
        b, _, n, _ = history.shape
        chebyshev, prior = city_operators(graph, self.config, history.device, history.dtype)
        supports = self.learned_operator(learned_graph)
        x = history.transpose(1, 2)  # x: [b n t c]
        outputs, scores = [], None
        for block in self.blocks:
            x, scores = block(x, scores, chebyshev, prior, supports)
            outputs.append(x)
        y = self.head_out(self.head_hidden(torch.cat(outputs, dim=2).flatten(2)))  # [b n (t_out c_out)]
        return y.reshape(b, n, self.config.output_len, self.config.out_channels).transpose(1, 2)
