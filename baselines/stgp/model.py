"""STGP's network: a node-agnostic spatio-temporal encoder over patches, a graph decoder, and its prompts.

One template serves every stage: a grid of ``[nodes x patches]`` tokens of which some are *kept* (encoded)
and the rest *masked* (mask tokens, reconstructed by the decoder). Pre-training keeps random patches and
nodes; forecasting keeps the history patches of every node and reconstructs the future patches.
"""
from __future__ import annotations

import torch
from torch import nn

from baselines.stgp.layers import AttentionPrompt, CityStructure, GraphEncoding, TransformerLayer

HOURS, WEEKDAYS = 24, 7


def scatter_tokens(tokens: torch.Tensor, mask_token: torch.Tensor, kept_nodes: torch.Tensor,
                   kept_patches: torch.Tensor, num_nodes: int, num_patches: int) -> torch.Tensor:
    """``[b n p d]`` grid of ``mask_token`` with the encoded ``tokens`` [b m k d] at (kept node, kept patch)."""
    grid = mask_token.expand(tokens.shape[0], num_nodes, num_patches, -1).clone()
    grid[:, kept_nodes[:, None], kept_patches[None, :]] = tokens
    return grid


class DecoderLayer(nn.Module):
    """A temporal transformer layer over a node's patches and a diffusion graph convolution (forward and
    backward random walks, ``order`` hops each), mixed by a learned gate, with a residual and a norm."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float, order: int = 2):
        super().__init__()
        self.order = order
        self.temporal = TransformerLayer(dim, heads, mlp_ratio, dropout)
        self.spatial = nn.Linear((2 * order + 1) * dim, dim)
        self.gate_temporal, self.gate_spatial = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, city: CityStructure) -> torch.Tensor:
        # x: [b n p d]
        temporal = self.temporal(x.flatten(0, 1)).view_as(x)
        nodes_first = x.transpose(0, 1).reshape(x.shape[1], -1)  # [n b*p*d]
        terms = [x]
        for operator in (city.forward, city.backward):
            hop = nodes_first
            for _ in range(self.order):
                hop = operator @ hop
                terms.append(hop.view(x.shape[1], x.shape[0], *x.shape[2:]).transpose(0, 1))
        spatial = self.dropout(self.spatial(torch.cat(terms, dim=-1)))
        gate = torch.sigmoid(self.gate_temporal(temporal) + self.gate_spatial(spatial))
        return self.norm(x + gate * spatial + (1 - gate) * temporal)


class STGPModel(nn.Module):
    """Patch embedding, temporal + Graphormer spatial encoders with a gated fusion, graph decoder, head;
    plus the domain prompts (on both encoders' inputs) and the forecasting task prompts (on the decoder's
    input: one prompt set for kept patches, one for masked ones). Buffers record which prompts are on,
    so a saved state carries its stage."""

    def __init__(self, patch_len: int, history_patches: int, future_patches: int, dim: int, heads: int,
                 mlp_ratio: int, encoder_depth: int, decoder_depth: int, dropout: float, num_degree: int,
                 num_spatial: int, num_prompts: int, num_task_prompts: int, prompt_threshold: float):
        super().__init__()
        self.patch_len, self.history_patches, self.future_patches = patch_len, history_patches, future_patches
        patches = history_patches + future_patches
        self.embed = nn.Linear(patch_len, dim)
        self.position = nn.Parameter(torch.empty(patches, dim).uniform_(-0.02, 0.02))
        self.hour, self.weekday = nn.Embedding(HOURS, dim), nn.Embedding(WEEKDAYS, dim)
        self.dropout = nn.Dropout(dropout)
        self.temporal = nn.ModuleList(TransformerLayer(dim, heads, mlp_ratio, dropout) for _ in range(encoder_depth))
        self.temporal_norm = nn.LayerNorm(dim)
        self.graph = GraphEncoding(dim, heads, num_degree, num_spatial)
        self.spatial = nn.ModuleList(TransformerLayer(dim, heads, mlp_ratio, dropout) for _ in range(encoder_depth))
        self.temporal_mask, self.spatial_mask = (nn.Parameter(0.02 * torch.randn(dim)) for _ in range(2))
        self.fuse_temporal, self.fuse_spatial = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim)
        self.decoder_position = nn.Parameter(torch.empty(patches, dim).uniform_(-0.02, 0.02))
        self.decoder_hour, self.decoder_weekday = nn.Embedding(HOURS, dim), nn.Embedding(WEEKDAYS, dim)
        self.decoder = nn.ModuleList(DecoderLayer(dim, heads, mlp_ratio, dropout) for _ in range(decoder_depth))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(2 * dim, patch_len))
        self.domain_temporal = AttentionPrompt(num_prompts, dim, prompt_threshold)
        self.domain_spatial = AttentionPrompt(num_prompts, dim, prompt_threshold)
        self.task_kept = AttentionPrompt(num_task_prompts, dim, prompt_threshold)
        self.task_masked = AttentionPrompt(num_task_prompts, dim, prompt_threshold)
        self.register_buffer("domain_prompted", torch.tensor(False))
        self.register_buffer("task_prompted", torch.tensor(False))

    def prompts(self, stage: str) -> list[nn.Module]:
        """The prompt modules learned in ``stage`` ("domain" or "task")."""
        return [self.domain_temporal, self.domain_spatial] if stage == "domain" else [self.task_kept, self.task_masked]

    def start_prompting(self, stage: str) -> list[nn.Parameter]:
        """Freeze everything but ``stage``'s prompts, switch them on; returns the parameters to learn."""
        self.requires_grad_(False)
        getattr(self, f"{stage}_prompted").fill_(True)
        learned = [p for module in self.prompts(stage) for p in module.parameters()]
        for parameter in learned:
            parameter.requires_grad_(True)
        return learned

    def encode(self, tokens: torch.Tensor, hours: torch.Tensor, weekdays: torch.Tensor, city: CityStructure,
               kept_patches: torch.Tensor, kept_nodes: torch.Tensor) -> torch.Tensor:
        """Fused ``[b n p d]`` grid: both encoders' outputs at kept tokens, their mask tokens elsewhere."""
        b, n, p, d = tokens.shape
        prompted = bool(self.domain_prompted)
        calendar = (self.hour(hours) + self.weekday(weekdays))[:, None]  # [b 1 p d]
        temporal = (tokens + self.position + calendar)[:, kept_nodes][:, :, kept_patches]  # [b m k d]
        temporal = self.domain_temporal(temporal) if prompted else temporal
        temporal = self.dropout(temporal).flatten(0, 1)
        for layer in self.temporal:
            temporal = layer(temporal)
        temporal = self.temporal_norm(temporal).view(b, len(kept_nodes), len(kept_patches), d)
        spatial = tokens + self.graph.node_bias(city)[:, None]
        spatial = self.domain_spatial(spatial) if prompted else spatial
        spatial = self.dropout(spatial[:, kept_nodes][:, :, kept_patches]).transpose(1, 2).flatten(0, 1)  # [b*k m d]
        bias = self.graph.attention_bias(city)[:, kept_nodes][:, :, kept_nodes]
        for layer in self.spatial:
            spatial = layer(spatial, bias)
        spatial = spatial.view(b, len(kept_patches), len(kept_nodes), d).transpose(1, 2)
        temporal = scatter_tokens(temporal, self.temporal_mask, kept_nodes, kept_patches, n, p)
        spatial = scatter_tokens(spatial, self.spatial_mask, kept_nodes, kept_patches, n, p)
        gate = torch.sigmoid(self.fuse_temporal(temporal) + self.fuse_spatial(spatial))
        return gate * temporal + (1 - gate) * spatial

    def forward(self, values: torch.Tensor, hours: torch.Tensor, weekdays: torch.Tensor, city: CityStructure,
                kept_patches: torch.Tensor, kept_nodes: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction ``[b n p patch_len]`` of every patch; values: [b n p*patch_len] z-scored (read
        only at kept tokens); hours, weekdays: [b p]; kept_nodes None: every node."""
        kept_nodes = torch.arange(city.num_nodes, device=values.device) if kept_nodes is None else kept_nodes
        tokens = self.embed(values.unflatten(-1, (-1, self.patch_len)))  # [b n p d]
        x = self.encode(tokens, hours, weekdays, city, kept_patches, kept_nodes)
        x = x + self.decoder_position + (self.decoder_hour(hours) + self.decoder_weekday(weekdays))[:, None]
        if bool(self.task_prompted):
            kept = torch.zeros(x.shape[2], device=x.device).index_fill_(0, kept_patches, 1.0)
            x = x + self.task_kept.delta(x, kept) + self.task_masked.delta(x, 1 - kept)
        for layer in self.decoder:
            x = layer(x, city)
        return self.head(x)

    def forecast(self, values: torch.Tensor, hours: torch.Tensor, weekdays: torch.Tensor,
                 city: CityStructure) -> torch.Tensor:
        """Z-scored forecast ``[b h n]``: the future patches reconstructed from the history patches."""
        kept = torch.arange(self.history_patches, device=values.device)
        future = self(values, hours, weekdays, city, kept)[:, :, self.history_patches:]  # [b n f l]
        return future.flatten(2).transpose(1, 2)
