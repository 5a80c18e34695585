"""Graph WaveNet backbone."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from tsjt_basicts.backbones.base import Backbone, BackboneConfig
from tsjt_basicts.backbones.layers import ChannelBatchNorm, DiffusionGraphConv, DilatedGatedConv
from tsjt_basicts.backbones.layers.graph import CityGraph
from tsjt_basicts.backbones.registry import register_backbone
from tsjt_basicts.errors import ConfigError


@dataclass
class GWNConfig(BackboneConfig):
    """Graph WaveNet settings; defaults follow the paper's METR-LA run."""

    residual_channels: int = field(default=32, metadata={"help": "channels of the residual stream"})
    dilation_channels: int = field(default=32, metadata={"help": "channels of the gated dilated convs"})
    skip_channels: int = field(default=256, metadata={"help": "channels of the skip connections"})
    end_channels: int = field(default=512, metadata={"help": "hidden channels of the output MLP"})
    kernel_size: int = field(default=2, metadata={"help": "temporal kernel size"})
    blocks: int = field(default=4, metadata={"help": "WaveNet blocks (dilations restart at 1 in each)"})
    layers_per_block: int = field(default=2, metadata={"help": "layers per block, dilations 1, 2, 4, .."})
    diffusion_order: int = field(default=2, metadata={"help": "diffusion steps K of the graph conv"})
    dropout: float = field(default=0.3, metadata={"help": "dropout on the graph conv output"})
    adaptive_graph: bool = field(
        default=True,
        metadata={"help": "weights for a self-adaptive graph: the forward's learned_graph, or node embeddings"},
    )
    num_nodes: int | None = field(
        default=None,
        metadata={"help": "single-city use only: create [N, 10] node embeddings for the adaptive graph (ties to N)"},
    )
    embedding_dim: int = field(default=10, metadata={"help": "node embedding size (with num_nodes)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_nodes is not None and (not self.adaptive_graph or self.num_nodes < 1):
            raise ConfigError("GWNConfig.num_nodes needs adaptive_graph=True and a positive node count")
        self.require_at_least_1("residual_channels", "dilation_channels", "skip_channels", "end_channels",
                                "kernel_size", "blocks", "layers_per_block", "diffusion_order", "embedding_dim")

    @property
    def receptive_field(self) -> int:
        return 1 + self.blocks * (self.kernel_size - 1) * (2**self.layers_per_block - 1)


@register_backbone("GWN")
class GWN(Backbone):
    """Graph WaveNet (Wu, Pan, Long, Jiang & Zhang, IJCAI 2019).

    Start 1x1 conv; ``blocks x layers_per_block`` layers of gated dilated causal conv (dilations
    1, 2, 1, 2, ...), diffusion graph conv of order 2 over the forward and backward transition
    operators (+ the adaptive graph), residual connection and batch norm; summed skip connections,
    ReLU, two 1x1 convs. Defaults: residual 32, dilation 32, skip 256, end 512, dropout 0.3.

    The adaptive graph: GWN learns ``softmax(relu(E1 E2))`` from per-node embeddings, which cannot
    transfer across cities. Here it is the forward input ``learned_graph: [B, N, N]``, a support
    whose rows sum to 1 (TSJT's support built from A_K), applied as GWN applies its own. Without one
    (``learned_graph=None``) the adaptive terms are left out of the graph conv, which then mixes the
    transition terms only, so one instance serves the 'w/o A_K' ablation too. Embeddings are created
    only for single-city use (``num_nodes`` set); the model then takes no learned_graph.

    Deviations from the original:
        * The adaptive graph comes from ``learned_graph`` (per sample) unless ``num_nodes`` is set;
          it may be absent at call time; ``adaptive_graph=False`` removes its weights altogether. It
          arrives normalised (rows sum to 1): the caller builds the support (TSJT:
          :class:`~tsjt_basicts.npm.PromptGraphSupport`), since ``softmax(relu(.))`` of a cosine
          matrix is near uniform.
        * The output conv emits ``output_len * out_channels`` channels (6 horizons by default, 12 in
          the original) and ``in_channels`` is 3 (value, time of day, day of week; 2 in the original).
        * Dead weights of the original are not created: the per-layer residual 1x1 convs (used only
          when the graph conv is switched off; 8 x 1,056 parameters) and the last layer's graph conv
          and batch norm, whose output the original computes and discards (7,264 parameters).
        * The SVD initialisation of the node embeddings from a given graph (``aptinit``) is not
          implemented; embeddings start from a standard normal as in the default run.
        * Layout ``[n b t c]``: each (1, k) convolution is one matrix product over its k taps (same
          parameters and arithmetic as the original's 2D convolutions; filter and gate share one
          matrix); a row of zeros in the adjacency gives a zero transition row instead of inf/NaN.
          Skip convs are applied to the last step only, the one step of the skip sum the head reads
          (the original convolves every step and crops; same output, a fraction of the work). When
          ``input_len`` exceeds the receptive field (13), the head reads the last step.
    """

    Config = GWNConfig
    supports_learned_graph = True

    def __init__(self, config: GWNConfig):
        super().__init__(config)
        c = config
        self.start = nn.Linear(c.in_channels, c.residual_channels)
        num_operators = 2 + int(c.adaptive_graph)
        dilations = [2**i for _ in range(c.blocks) for i in range(c.layers_per_block)]
        self.temporal = nn.ModuleList(
            DilatedGatedConv(c.residual_channels, c.dilation_channels, c.kernel_size, d) for d in dilations
        )
        self.skips = nn.ModuleList(nn.Linear(c.dilation_channels, c.skip_channels) for _ in dilations)
        # the last layer only feeds the skip sum: its graph conv and norm would be dead weights
        self.spatial = nn.ModuleList(
            DiffusionGraphConv(c.dilation_channels, c.residual_channels, num_operators, c.diffusion_order, c.dropout)
            for _ in dilations[:-1]
        )
        self.norms = nn.ModuleList(ChannelBatchNorm(c.residual_channels) for _ in dilations[:-1])
        self.end_hidden = nn.Linear(c.skip_channels, c.end_channels)
        self.end_out = nn.Linear(c.end_channels, c.output_len * c.out_channels)
        if c.num_nodes is not None:
            self.source_embedding = nn.Parameter(torch.randn(c.num_nodes, c.embedding_dim))
            self.target_embedding = nn.Parameter(torch.randn(c.embedding_dim, c.num_nodes))

    def _adaptive_operator(self, learned_graph: torch.Tensor | None, num_nodes: int) -> torch.Tensor | None:
        """The adaptive graph as an operator (node j gathers ``sum_i P[i, j] x_i``), or None if disabled."""
        if not self.config.adaptive_graph:
            return None
        if self.config.num_nodes is not None:
            if learned_graph is not None:
                raise ValueError(
                    "GWN was built with node embeddings (num_nodes set): its adaptive graph is learned from them; "
                    "pass learned_graph=None, or build it with num_nodes=None to take learned graphs"
                )
            if num_nodes != self.config.num_nodes:
                raise ValueError(
                    f"GWN's node embeddings are for {self.config.num_nodes} nodes but the batch has {num_nodes}; "
                    "build with num_nodes=None and pass learned_graph to serve several cities"
                )
            return F.softmax(F.relu(self.source_embedding @ self.target_embedding), dim=1).T  # [n n]
        learned = self.learned_operator(learned_graph)  # none: e.g. TSJT without its prompt graph
        return learned[0] if learned else None  # [b n n]

    def forward(
        self, history: torch.Tensor, graph: CityGraph, learned_graph: torch.Tensor | None = None
    ) -> torch.Tensor:
        # history: [b t n c] -> [b t_out n c_out]
        self.check_inputs(history, graph, learned_graph)
        b, steps, n, _ = history.shape
        operators = [graph.operator(name, history.device, history.dtype) for name in ("forward", "backward")]
        adaptive = self._adaptive_operator(learned_graph, n)
        if adaptive is not None:
            operators.append(adaptive)
        x = history.permute(2, 0, 1, 3)  # x: [n b t c]
        x = F.pad(x, (0, 0, max(self.config.receptive_field - steps, 0), 0))  # causal left padding
        x = self.start(x)
        skip = 0  # only the last step of the skip sum reaches the output: skips are taken there only
        for i, (temporal, to_skip) in enumerate(zip(self.temporal, self.skips)):
            residual = x
            x = temporal(x)  # x: [n b t' c] with t' = t - dilation (kernel - 1)
            skip = skip + to_skip(x[:, :, -1:])  # skip: [n b 1 c_skip]
            if i < len(self.spatial):
                x = self.norms[i](self.spatial[i](x, operators) + residual[:, :, -x.shape[2] :])
        y = self.end_out(torch.relu(self.end_hidden(torch.relu(skip))))  # y: [n b 1 (t_out c_out)]
        return y.reshape(n, b, self.config.output_len, self.config.out_channels).permute(1, 2, 0, 3)
