"""DCRNN backbone."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from tsjt_basicts.backbones.base import Backbone, BackboneConfig
from tsjt_basicts.backbones.layers import DCGRUCell
from tsjt_basicts.backbones.layers.graph import CityGraph
from tsjt_basicts.backbones.registry import register_backbone
from tsjt_basicts.errors import ConfigError


@dataclass
class DCRNNConfig(BackboneConfig):
    """DCRNN settings; defaults follow the authors' METR-LA config (except curriculum learning, off)."""

    hidden_size: int = field(default=64, metadata={"help": "units of every DCGRU layer (rnn_units)"})
    num_layers: int = field(default=2, metadata={"help": "stacked DCGRU layers in encoder and decoder"})
    diffusion_steps: int = field(default=2, metadata={"help": "max diffusion step K per support"})
    use_curriculum_learning: bool = field(
        default=False,
        metadata={"help": "scheduled sampling in training: forward then needs targets and batches_seen"},
    )
    cl_decay_steps: int = field(default=2000, metadata={"help": "decay constant tau of the sampling schedule"})
    adaptive_graph: bool = field(
        default=False, metadata={"help": "weights for a learned support (TSJT's A_K) as a third diffusion support"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least_1("hidden_size", "num_layers", "cl_decay_steps")
        if self.diffusion_steps < 0:
            raise ConfigError(f"DCRNNConfig.diffusion_steps must be >= 0, got {self.diffusion_steps}")


@register_backbone("DCRNN")
class DCRNN(Backbone):
    """Diffusion Convolutional Recurrent Neural Network (Li, Yu, Shahabi & Liu, ICLR 2018).

    Sequence to sequence: a stacked DCGRU encoder reads the history, a stacked DCGRU decoder
    starts from a zero GO symbol and feeds back its own projected output. Diffusion over the dual
    random walk (forward and backward transition operators), K = 2, 2 layers of 64 units.
    Scheduled sampling (inverse sigmoid decay ``tau / (tau + exp(step / tau))``, tau = 2000) is
    optional and only ever active in training.

    Deviations from the original (DCRNN_PyTorch):
        * Parameters are created in ``__init__``; the original creates them lazily on the first
          forward, which forces an optimizer rebuild and breaks per-tensor gradient bookkeeping.
        * Each support's diffusion series starts from the input: the original code carries the
          previous support's last term into the next support's recursion (``x0`` reassigned).
          The recursion itself (``x_k = 2 S x_{k-1} - x_{k-2}``) is kept as in the authors' code.
        * Scheduled sampling is off by default (``use_curriculum_learning=False``) because the
          common forward passes no targets; set it and pass ``targets`` (in the model's output
          scale) and ``batches_seen``. The original turns it on in its configs.
        * ``in_channels`` is 3 (value, time of day, day of week; 2 in the original); the decoder
          feeds back ``out_channels`` values per node; ``output_len`` is 6 (12 in the original).
        * ``adaptive_graph=True`` (TSJT) adds a learned support as a third diffusion support of every
          DCGRU cell (TSJT paper, Fig. 3: the models take X~ and A_K); without a learned graph at
          call time its terms are left out.
        * The supports are built by :class:`CityGraph` with a zero-degree guard (same as the
          original's inf -> 0) and no device argument: operators follow the input's device.
    """

    Config = DCRNNConfig
    supports_learned_graph = True

    def __init__(self, config: DCRNNConfig):
        super().__init__(config)
        c = config
        encoder_inputs = [c.in_channels] + [c.hidden_size] * (c.num_layers - 1)
        decoder_inputs = [c.out_channels] + [c.hidden_size] * (c.num_layers - 1)
        supports = 2 + int(c.adaptive_graph)
        self.encoder = nn.ModuleList(DCGRUCell(i, c.hidden_size, supports, c.diffusion_steps) for i in encoder_inputs)
        self.decoder = nn.ModuleList(DCGRUCell(i, c.hidden_size, supports, c.diffusion_steps) for i in decoder_inputs)
        self.projection = nn.Linear(c.hidden_size, c.out_channels)

    def sampling_probability(self, batches_seen: int) -> float:
        """Probability of feeding the ground truth to the decoder after ``batches_seen`` batches."""
        tau = self.config.cl_decay_steps
        return tau / (tau + math.exp(min(batches_seen / tau, 700.0)))

    def _teacher(self, targets: torch.Tensor | None, batches_seen: int | None, b: int, n: int) -> torch.Tensor | None:
        """Ground truth for the decoder as ``[t_out n b c_out]`` when scheduled sampling is active."""
        if not (self.training and self.config.use_curriculum_learning):
            return None
        if targets is None or batches_seen is None:
            raise ValueError("DCRNN: use_curriculum_learning=True needs targets and batches_seen in training")
        c = self.config
        if targets.dim() == 3:
            targets = targets.unsqueeze(-1)
        if tuple(targets.shape) != (b, c.output_len, n, c.out_channels):
            raise ValueError(f"DCRNN: targets must be [B, T_out, N(, C_out)], got {tuple(targets.shape)}")
        return targets.permute(1, 2, 0, 3)

    def forward(
        self,
        history: torch.Tensor,
        graph: CityGraph,
        learned_graph: torch.Tensor | None = None,
        *,
        targets: torch.Tensor | None = None,
        batches_seen: int | None = None,
    ) -> torch.Tensor:
        # history: [b t n c] -> [b t_out n c_out]
        self.check_inputs(history, graph, learned_graph)
        b, _, n, _ = history.shape
        c = self.config
        teacher = self._teacher(targets, batches_seen, b, n)
        operators = [graph.operator(name, history.device, history.dtype) for name in ("forward", "backward")]
        operators += self.learned_operator(learned_graph)
        x = history.permute(1, 2, 0, 3)  # x: [t n b c]
        states = [history.new_zeros(n, b, c.hidden_size) for _ in range(c.num_layers)]  # [n b h] each
        for step in x:
            for layer, cell in enumerate(self.encoder):
                step = states[layer] = cell(step, states[layer], operators)
        decoder_input = history.new_zeros(n, b, c.out_channels)  # GO symbol
        outputs = []
        for t in range(c.output_len):
            step = decoder_input
            for layer, cell in enumerate(self.decoder):
                step = states[layer] = cell(step, states[layer], operators)
            outputs.append(self.projection(step))  # [n b c_out]
            decoder_input = outputs[-1]
            if teacher is not None and torch.rand(()).item() < self.sampling_probability(batches_seen):
                decoder_input = teacher[t]
        return torch.stack(outputs).permute(2, 0, 1, 3)  # [b t_out n c_out]
