"""GPD's per-node model: a small Graph WaveNet on one node's ego graph, many of them run as one batch.

Every node's model has the same architecture, so its parameters are one flat vector of a fixed
:class:`ParamLayout`; ``M`` models are an ``[M, P]`` tensor and run together as batched
matrix products, one batch entry per model (no loop over nodes). The flat vectors are what GPD's diffusion model learns to generate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from baselines.gpd.ego import EgoGraphs

GRAPH_ORDER = 2  # powers of each transition operator in the graph convolution (Graph WaveNet's)
SUPPORTS = 2  # forward and backward transition of the ego graph
KERNEL = 2  # temporal kernel of the gated dilated convolutions


@dataclass(frozen=True)
class NodeModelSpec:
    """Widths of the per-node Graph WaveNet (no biases, as the authors' ``v_GWN``)."""

    in_channels: int
    channels: int  # residual = dilation = skip width
    blocks: int
    layers_per_block: int  # dilations 1, 2, 4, ... within a block
    end_channels: int
    output_len: int

    @property
    def dilations(self) -> list[int]:
        return [2**layer for _ in range(self.blocks) for layer in range(self.layers_per_block)]

    @property
    def receptive_field(self) -> int:
        return 1 + (KERNEL - 1) * sum(self.dilations)


@dataclass(frozen=True)
class ParamLayout:
    """Names and shapes of a model's tensors in their order in the flat parameter vector."""

    entries: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def sizes(self) -> list[int]:
        return [math.prod(shape) for _, shape in self.entries]

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def flatten(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """``{name: [M, *shape]}`` -> ``[M, P]`` in layout order."""
        return torch.cat([tensors[name].flatten(1) for name, _ in self.entries], dim=1)

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[M, P]`` -> ``{name: [M, *shape]}`` (views of ``flat``)."""
        if flat.shape[-1] != self.size:
            raise ValueError(f"a flat parameter vector of this layout has {self.size} entries, got {flat.shape[-1]}")
        pieces = flat.split(self.sizes, dim=-1)
        return {name: piece.unflatten(-1, shape) for (name, shape), piece in zip(self.entries, pieces)}

    def initial(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``[count, P]``: every tensor uniform in +-1/sqrt(fan in) (torch's default for convolutions)."""
        tensors = {}
        for name, shape in self.entries:
            bound = 1.0 / math.sqrt(math.prod(shape[1:]))
            tensors[name] = (torch.rand(count, *shape, generator=generator) * 2 - 1) * bound
        return self.flatten(tensors)


def node_model_layout(spec: NodeModelSpec) -> ParamLayout:
    """The tensors of :func:`node_forecast`, in flat-vector order."""
    c, graph_in = spec.channels, (1 + SUPPORTS * GRAPH_ORDER) * spec.channels
    entries = [("start", (c, spec.in_channels))]
    for layer in range(len(spec.dilations)):
        entries += [(f"filter{layer}", (c, c, KERNEL)), (f"gate{layer}", (c, c, KERNEL)),
                    (f"graph{layer}", (c, graph_in)), (f"skip{layer}", (c, c))]
    entries += [("end1", (spec.end_channels, c)), ("end2", (spec.output_len, spec.end_channels))]
    return ParamLayout(tuple(entries))


def mix(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Each model's 1x1 map of its own channels, one batched matmul: weight [M, O, C], x [M, C, ...] -> [M, O, ...]."""
    return torch.bmm(weight, x.flatten(2)).unflatten(2, x.shape[2:])


def gated_conv(filter_weight: torch.Tensor, gate_weight: torch.Tensor, h: torch.Tensor, dilation: int) -> torch.Tensor:
    """tanh(filter conv) * sigmoid(gate conv), kernel-2 dilated convolutions along time, all taps in one
    matmul: weights [M, C, C, 2], h [M, C, B, K, T] -> [M, C, B, K, T - dilation]."""
    c = filter_weight.shape[1]
    taps = torch.cat([filter_weight[..., 0], filter_weight[..., 1], gate_weight[..., 0], gate_weight[..., 1]], 1)
    out = mix(taps, h)
    early, late = out[..., :-dilation], out[..., dilation:]
    return torch.tanh(early[:, :c] + late[:, c : 2 * c]) * torch.sigmoid(early[:, 2 * c : 3 * c] + late[:, 3 * c :])


def graph_terms(x: torch.Tensor, supports: torch.Tensor) -> torch.Tensor:
    """``[x, S1 x, S1^2 x, S2 x, S2^2 x]`` stacked on channels: supports [M, 2, K, K], x [M, C, B, K, T]."""
    m, c, b, k, t = x.shape
    nodes_first = x.transpose(1, 3).reshape(m, k, -1)  # [m k (b c t)]
    terms = [nodes_first]
    for support in supports.unbind(1):
        current = nodes_first
        for _ in range(GRAPH_ORDER):
            current = torch.bmm(support, current)
            terms.append(current)
    stacked = torch.stack(terms, 1).reshape(m, len(terms), k, b, c, t)  # [m terms k b c t]
    return stacked.permute(0, 1, 4, 3, 2, 5).reshape(m, len(terms) * c, b, k, t)


def node_forecast(spec: NodeModelSpec, weights: dict[str, torch.Tensor], x: torch.Tensor,
                  supports: torch.Tensor) -> torch.Tensor:
    """Each model's forecast of its centre (slot 0): x [M, C_in, B, K, T] -> [M, output_len, B]."""
    if x.shape[-1] < spec.receptive_field:
        x = nn.functional.pad(x, (spec.receptive_field - x.shape[-1], 0))
    h = mix(weights["start"], x)
    skip = 0.0
    for layer, dilation in enumerate(spec.dilations):
        gated = gated_conv(weights[f"filter{layer}"], weights[f"gate{layer}"], h, dilation)
        skip = skip + mix(weights[f"skip{layer}"], gated[:, :, :, 0, -1])  # centre, last step
        h = mix(weights[f"graph{layer}"], graph_terms(gated, supports)) + h[..., -gated.shape[-1]:]
    hidden = torch.relu(mix(weights["end1"], torch.relu(skip)))
    return mix(weights["end2"], hidden)


class NodeModels(nn.Module):
    """``M`` per-node models (one flat parameter row each) on their ego graphs of one city.

    ``forward(inputs [B, T, N, C]) -> [B, output_len, M]``: each model's z-scored forecast of its centre.
    """

    def __init__(self, spec: NodeModelSpec, flat: torch.Tensor, ego: EgoGraphs):
        super().__init__()
        self.spec, self.layout = spec, node_model_layout(spec)
        self.flat = nn.Parameter(flat.detach().clone())
        self.register_buffer("index", ego.index)
        self.register_buffer("valid", ego.valid)
        self.register_buffer("supports", ego.supports)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = EgoGraphs(self.index, self.valid, self.supports).gather(inputs)
        return node_forecast(self.spec, self.layout.unflatten(self.flat), x, self.supports).permute(2, 1, 0)
