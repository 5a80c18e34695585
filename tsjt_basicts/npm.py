"""Node Prompting Module (NPM), TSJT paper Sec. "Node Prompting Module", Eqs. 2-7.

A pattern encoder turns each node's recent history into a pattern Z (Eqs. 2-4): input
projection plus sinusoidal time embedding, a graph convolution on the city's graph, multi-head
self-attention over time per node with add & LayerNorm, a second graph convolution with add &
LayerNorm. Every normalisation runs over features only, so the module is shared by cities of any
node count. A bank of K prompts (each T x D') is attended with Z as query (Eqs. 5-6); the node
prompt P is concatenated to the input, X~ = [X || P], and A_K(i, j) = cos(P_i, P_j) (Eq. 7) is
handed to backbones that take a learned graph.

Deviation, stated: the attention score is the Frobenius product scaled by sqrt(T * D') (as in
scaled dot-product attention); ``attention="literal"`` uses the unscaled product of Eq. 5.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from tsjt_basicts.backbones import CityGraph, build_backbone
from tsjt_basicts.backbones.layers import diffusion_terms

AttentionScore = Literal["scaled", "literal"]


@dataclass
class NPMConfig:
    """Settings of the node prompting module."""

    num_prompts: int = field(metadata={"help": "K, prompts in the bank (paper: half the target city's nodes)"})
    prompt_dim: int = field(default=16, metadata={"help": "D', feature size of patterns and prompts"})
    num_heads: int = field(default=2, metadata={"help": "heads of the temporal self-attention"})
    attention: AttentionScore = field(default="scaled", metadata={"help": "'scaled' or the 'literal' Eq. 5 product"})
    dropout: float = field(default=0.0, metadata={"help": "dropout inside the encoder"})

    def __post_init__(self) -> None:
        if self.num_prompts < 1:
            raise ValueError(f"num_prompts must be >= 1, got {self.num_prompts}")
        if self.prompt_dim % self.num_heads:
            raise ValueError(f"prompt_dim ({self.prompt_dim}) must be divisible by num_heads ({self.num_heads})")
        if self.attention not in ("scaled", "literal"):
            raise ValueError(f"unknown attention score {self.attention!r}; use 'scaled' or 'literal'")


def sinusoidal_time_embedding(length: int, dim: int) -> torch.Tensor:
    """``[length, dim]`` sine/cosine position codes (Vaswani et al. 2017), Eq. 2's temporal embedding."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class GraphMixing(nn.Module):
    """One-hop graph convolution over forward and backward transitions: W [h, S_f h, S_b h]."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(3 * dim, dim)

    def forward(self, h: torch.Tensor, graph: CityGraph) -> torch.Tensor:
        # h: [n b t d] -> [n b t d]
        operators = [graph.operator(name, h.device, h.dtype) for name in ("forward", "backward")]
        return self.linear(torch.cat(diffusion_terms(h, operators, steps=1), dim=-1))


class PatternEncoder(nn.Module):
    """Eqs. 2-4: per-node pattern Z ``[B, N, T, D']`` of the input window."""

    def __init__(self, config: NPMConfig, in_channels: int, input_len: int):
        super().__init__()
        dim = config.prompt_dim
        self.input_projection = nn.Linear(in_channels, dim)
        self.register_buffer("time_embedding", sinusoidal_time_embedding(input_len, dim), persistent=False)
        self.first_graph = GraphMixing(dim)
        self.attention = nn.MultiheadAttention(dim, config.num_heads, dropout=config.dropout, batch_first=True)
        self.attention_norm = nn.LayerNorm(dim)
        self.second_graph = GraphMixing(dim)
        self.graph_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, graph: CityGraph) -> torch.Tensor:
        # x: [b t n c] -> z: [b n t d]
        b, t, n, _ = x.shape
        h = self.input_projection(x) + self.time_embedding[:, None, :]  # [b t n d]
        h = self.first_graph(h.permute(2, 0, 1, 3), graph)  # [n b t d]
        flat = h.reshape(n * b, t, -1)
        attended, _ = self.attention(flat, flat, flat, need_weights=False)
        h = self.attention_norm(flat + attended).reshape(n, b, t, -1)
        h = self.graph_norm(h + self.second_graph(h, graph))
        return h.permute(1, 0, 2, 3)


class PromptBank(nn.Module):
    """Eqs. 5-6: K learnable prompts ``[K, T, D']``, attended with the node pattern as query."""

    def __init__(self, config: NPMConfig, input_len: int):
        super().__init__()
        self.prompts = nn.Parameter(torch.randn(config.num_prompts, input_len, config.prompt_dim) * 0.1)
        scaled = config.attention == "scaled"
        self.score_scale = 1.0 / math.sqrt(input_len * config.prompt_dim) if scaled else 1.0

    def forward(self, pattern: torch.Tensor) -> torch.Tensor:
        # pattern: [b n t d] -> node prompt P: [b n t d]
        scores = torch.einsum("bntd,ktd->bnk", pattern, self.prompts) * self.score_scale
        return torch.einsum("bnk,ktd->bntd", scores.softmax(dim=-1), self.prompts)


def prompt_graph(prompt: torch.Tensor) -> torch.Tensor:
    """Eq. 7: A_K(i, j) = cos(P_i, P_j), ``[B, N, N]``, symmetric with a unit diagonal."""
    flat = F.normalize(prompt.flatten(start_dim=2), dim=-1)  # [b n (t d)]
    return flat @ flat.transpose(1, 2)


@dataclass
class NodePromptedConfig:
    """A backbone wrapped by the NPM; the switches give the paper's ablations."""

    backbone: str = field(metadata={"help": "registered backbone name, e.g. 'GWN'"})
    npm: NPMConfig | None = field(default=None, metadata={"help": "prompt module; None = 'w/o NPM'"})
    prompt_graph: bool = field(default=True, metadata={"help": "hand A_K to the backbone; False = 'w/o A_K'"})
    in_channels: int = field(default=3, metadata={"help": "input channels C of X"})
    input_len: int = field(default=12, metadata={"help": "input steps T"})
    output_len: int = field(default=6, metadata={"help": "forecast steps"})
    backbone_config: dict = field(default_factory=dict, metadata={"help": "other backbone settings (registry defaults)"})

    def __post_init__(self) -> None:
        clash = {"in_channels", "input_len", "output_len"} & set(self.backbone_config)
        if clash:
            raise ValueError(f"set {sorted(clash)} on NodePromptedConfig itself, not inside backbone_config")


class NodePromptedModel(nn.Module):
    """X~ = [X || P] into any registered backbone, plus A_K for backbones taking a learned graph.

    Follows the BasicTS forward convention: ``forward(inputs [B, T, N, C], graph) -> [B, T_out, N]``.
    """

    def __init__(self, config: NodePromptedConfig):
        super().__init__()
        self.config = config
        npm = config.npm
        prompt_channels = npm.prompt_dim if npm is not None else 0
        self.backbone = build_backbone(
            config.backbone,
            in_channels=config.in_channels + prompt_channels,
            input_len=config.input_len,
            output_len=config.output_len,
            **config.backbone_config,
        )
        self.encoder = PatternEncoder(npm, config.in_channels, config.input_len) if npm is not None else None
        self.bank = PromptBank(npm, config.input_len) if npm is not None else None
        self.uses_prompt_graph = npm is not None and config.prompt_graph and self.backbone.accepts_learned_graph

    def check_inputs(self, inputs: torch.Tensor, graph: CityGraph) -> None:
        """Raise ``ValueError`` naming the problem before any layer sees a misfit batch or graph."""
        expected = (self.config.input_len, self.config.in_channels)
        if inputs.dim() != 4 or (inputs.shape[1], inputs.shape[3]) != expected:
            raise ValueError(
                f"inputs must be [B, {expected[0]}, N, {expected[1]}] (input_len, in_channels of the model), "
                f"got {list(inputs.shape)}"
            )
        if not isinstance(graph, CityGraph):
            raise TypeError(f"graph must be the batch city's CityGraph, got {type(graph).__name__}")
        graph.check_nodes(inputs.shape[2])

    def forward(self, inputs: torch.Tensor, graph: CityGraph) -> torch.Tensor:
        # inputs: [b t n c] -> [b t_out n]
        self.check_inputs(inputs, graph)
        learned_graph = None
        if self.encoder is not None:
            prompt = self.bank(self.encoder(inputs, graph))  # [b n t d]
            inputs = torch.cat([inputs, prompt.permute(0, 2, 1, 3)], dim=-1)
            if self.uses_prompt_graph:
                learned_graph = prompt_graph(prompt)
        return self.backbone(inputs, graph, learned_graph)[..., 0]


def wrap_with_npm(backbone: str, npm: NPMConfig | None, prompt_graph: bool = True, **backbone_config) -> NodePromptedModel:
    """Turn a registered backbone into an NPM model, e.g. ``wrap_with_npm("GWN", NPMConfig(num_prompts=100))``."""
    return NodePromptedModel(NodePromptedConfig(backbone, npm, prompt_graph, backbone_config=backbone_config))
