"""STGCN backbone."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from tsjt_basicts.backbones.base import Backbone, BackboneConfig
from tsjt_basicts.backbones.layers import ChannelAlign, ChebGraphConv, TemporalConv
from tsjt_basicts.backbones.layers.graph import CityGraph
from tsjt_basicts.backbones.registry import register_backbone
from tsjt_basicts.errors import ConfigError


@dataclass
class STGCNConfig(BackboneConfig):
    """STGCN settings; defaults follow the paper."""

    block_channels: tuple[int, int, int] = field(
        default=(64, 16, 64), metadata={"help": "channels of an ST-Conv block: temporal, spatial, temporal"}
    )
    num_blocks: int = field(default=2, metadata={"help": "number of ST-Conv blocks"})
    kt: int = field(default=3, metadata={"help": "temporal kernel size Kt"})
    ks: int = field(default=3, metadata={"help": "Chebyshev terms Ks (polynomial order Ks - 1)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout after each block (authors' code: keep_prob 1)"})
    adaptive_graph: bool = field(
        default=False, metadata={"help": "weights for a learned support (TSJT's A_K) in every graph conv"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.block_channels = tuple(int(c) for c in self.block_channels)
        if len(self.block_channels) != 3 or min(self.block_channels) < 1:
            raise ConfigError(f"STGCNConfig.block_channels must be 3 positive ints, got {self.block_channels}")
        self.require_at_least_1("num_blocks", "kt", "ks")
        if self.output_kernel < 1:
            raise ConfigError(
                f"STGCNConfig: {self.num_blocks} blocks with kt={self.kt} need input_len > "
                f"{2 * self.num_blocks * (self.kt - 1)}, got {self.input_len}; use fewer blocks or a smaller kt"
            )

    @property
    def output_kernel(self) -> int:
        """Steps left after the blocks (each shortens the series by 2 (kt - 1)): the output conv's kernel Ko."""
        return self.input_len - 2 * self.num_blocks * (self.kt - 1)


class STConvBlock(nn.Module):
    """Temporal GLU conv -> Chebyshev graph conv (ReLU, residual) -> temporal ReLU conv -> norm -> dropout."""

    def __init__(self, in_channels: int, channels: tuple[int, int, int], kt: int, ks: int, dropout: float,
                 extra_supports: int = 0):
        super().__init__()
        c_t, c_s, c_o = channels
        self.temporal_in = TemporalConv(in_channels, c_t, kt, "glu")
        self.spatial = ChebGraphConv(c_t, c_s, ks, extra_supports)
        self.spatial_residual = ChannelAlign(c_t, c_s)
        self.temporal_out = TemporalConv(c_s, c_o, kt, "relu")
        self.norm = nn.LayerNorm(c_o)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, laplacian: torch.Tensor, supports: list[torch.Tensor]) -> torch.Tensor:
        # x: [n b t c] -> [n b t - 2 (kt - 1) c_o]
        x = self.temporal_in(x)
        x = torch.relu(self.spatial(x, laplacian, supports) + self.spatial_residual(x))
        return self.dropout(self.norm(self.temporal_out(x)))


@register_backbone("STGCN")
class STGCN(Backbone):
    """Spatio-Temporal Graph Convolutional Networks (Yu, Yin & Zhu, IJCAI 2018).

    ST-Conv blocks (gated temporal conv, Chebyshev graph conv, temporal conv, layer norm) and the
    output layer (temporal conv over the remaining steps, layer norm, 1x1 sigmoid conv, 1x1 conv).
    Defaults follow the paper: two blocks of 64/16/64 channels, Kt = 3, Ks = 3.

    Deviations from the original:
        * Multi-step head: the final 1x1 conv emits ``output_len * out_channels`` channels, one per
          horizon, trained jointly; the original predicts a single step and rolls out recursively.
        * Layer norm over features only: the original normalises over [N, C] with per-node gamma and
          beta ([1, 1, N, C]), which ties the model to one node count and cannot transfer.
        * The final fully connected layer's bias is shared by all nodes (the original has one per node).
        * The Chebyshev operator is built from the symmetrised adjacency ``max(A, A^T)`` without
          self-loops, with the normalised Laplacian ``I - D^-1/2 W D^-1/2`` (the original takes the
          given symmetric W; its degree-0 guard is the same); isolated nodes keep ``L_ii = 1``.
        * Channel plan from the paper (64, 16, 64: the graph conv is the bottleneck, with a 1x1
          residual projection); the authors' TF code instead uses [[1, 32, 64], [64, 32, 128]] with a
          width-preserving graph conv.
        * Inputs carry ``in_channels`` features (value, time of day, day of week) instead of one.
        * ``adaptive_graph=True`` (TSJT) adds a learned support as one more one-hop term of every
          graph conv, ``S^T x Theta_A`` beside the Chebyshev terms (TSJT paper, Fig. 3: "the input
          of existing models" is X~ and A_K); without a learned graph at call time that term is
          left out, as Graph WaveNet leaves out its adaptive terms.
        * Initialisation is PyTorch's default for convolutions and Xavier-uniform for the graph
          kernel (TF defaults in the original). Dropout is 0 by default as in the authors' training
          script (keep_prob = 1.0).
    """

    Config = STGCNConfig
    supports_learned_graph = True

    def __init__(self, config: STGCNConfig):
        super().__init__(config)
        c = config.block_channels
        widths = [config.in_channels] + [c[2]] * config.num_blocks
        self.blocks = nn.ModuleList(
            STConvBlock(widths[i], c, config.kt, config.ks, config.dropout, int(config.adaptive_graph))
            for i in range(config.num_blocks)
        )
        self.output_temporal = TemporalConv(c[2], c[2], config.output_kernel, "glu")
        self.output_norm = nn.LayerNorm(c[2])
        self.output_gate = TemporalConv(c[2], c[2], 1, "sigmoid")
        self.head = nn.Linear(c[2], config.output_len * config.out_channels)

    def forward(
        self, history: torch.Tensor, graph: CityGraph, learned_graph: torch.Tensor | None = None
    ) -> torch.Tensor:
        # history: [b t n c] -> [b t_out n c_out]
        self.check_inputs(history, graph, learned_graph)
        b, _, n, _ = history.shape
        laplacian = graph.operator("chebyshev", history.device, history.dtype)
        supports = self.learned_operator(learned_graph)
        x = history.permute(2, 0, 1, 3)  # x: [n b t c]
        for block in self.blocks:
            x = block(x, laplacian, supports)
        x = self.output_gate(self.output_norm(self.output_temporal(x)))  # x: [n b 1 c]
        y = self.head(x).reshape(n, b, self.config.output_len, self.config.out_channels)
        return y.permute(1, 2, 0, 3)
