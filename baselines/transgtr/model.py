"""TransGTR's modules: the patch masked autoencoder (teacher), the short-history node feature network
(student), the graph generator and the forecaster handing its graph to Graph WaveNet; and the losses
of their training (masked reconstruction, CORAL, degree regulariser).

Jin, Chen & Yang, "Transferable Graph Structure Learning for Graph-based Traffic Forecasting Across
Cities", KDD 2023. Nothing here is sized by a city's node count.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from tsjt_basicts.backbones import CityGraph, build_backbone
from tsjt_basicts.data.split import Protocol


def masked_reconstruction_loss(prediction: torch.Tensor, patches: torch.Tensor, masked: torch.Tensor,
                               observed: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error over the masked patches only (and, given ``observed``, their observed steps).

    prediction, patches: [s p l]; masked: [s p] bool; observed: [s p l] bool or None.
    """
    weight = masked[..., None].expand_as(patches).float()
    if observed is not None:
        weight = weight * observed.float()
    return ((prediction - patches).abs() * weight).sum() / weight.sum().clamp_min(1.0)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CORAL distance of two feature sets [m d] and [m' d]: squared gaps of their means and covariances
    (mean over entries, as the authors' DomainBed version); 0 for identical sets."""
    mean_s, mean_t = source.mean(0, keepdim=True), target.mean(0, keepdim=True)
    centred_s, centred_t = source - mean_s, target - mean_t
    cov_s = centred_s.T @ centred_s / max(len(source) - 1, 1)
    cov_t = centred_t.T @ centred_t / max(len(target) - 1, 1)
    return (mean_s - mean_t).square().mean() + (cov_s - cov_t).square().mean()


def degree_penalty(edges: torch.Tensor, target_degree: float) -> torch.Tensor:
    """Squared gap between the mean out-degree of ``edges`` [b n n] (no self-loops) and ``target_degree``
    (capped at n - 1), both as shares of the n - 1 other nodes; 0 at the target degree."""
    others = max(edges.shape[-1] - 1, 1)
    goal = min(target_degree, others)
    return ((edges.sum(-1).mean() - goal) / others).square()


def gumbel_edges(logits: torch.Tensor, temperature: float, sample: bool) -> torch.Tensor:
    """Hard 0/1 edges [b n n] from edge logits [b n n], diagonal off.

    ``sample``: a two-class Gumbel-softmax draw (the difference of two Gumbel noises is logistic noise)
    made hard with the straight-through gradient of the soft draw; otherwise the mode (logit > 0).
    """
    if sample:
        uniform = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
        soft = torch.sigmoid((logits + uniform.log() - (-uniform).log1p()) / temperature)
        edges = (soft > 0.5).to(soft.dtype) + (soft - soft.detach())  # exactly 0/1, soft gradient
    else:
        edges = (logits > 0).to(logits.dtype)
    eye = torch.eye(logits.shape[-1], dtype=torch.bool, device=logits.device)
    return edges.masked_fill(eye, 0.0)


def row_normalised_support(edges: torch.Tensor) -> torch.Tensor:
    """(edges + I) / row sums: a support [b n n] whose rows sum to 1 (a node without edges keeps itself)."""
    with_self = edges + torch.eye(edges.shape[-1], dtype=edges.dtype, device=edges.device)
    return with_self / with_self.sum(-1, keepdim=True)


class PatchMAE(nn.Module):
    """TSFormer-style masked autoencoder over the patches of a node's long history.

    The encoder sees the visible patches only; the decoder sees their encodings and a mask token at
    every masked patch (both with position embeddings) and reconstructs the patches linearly.
    """

    def __init__(self, patch_len: int, patches: int, dim: int, heads: int, depth: int):
        super().__init__()
        self.patch_len = patch_len
        self.embed = nn.Linear(patch_len, dim)
        self.position = nn.Parameter(torch.empty(patches, dim).uniform_(-0.02, 0.02))
        self.mask_token = nn.Parameter(torch.empty(dim).normal_(std=0.02))
        self.encoder = nn.TransformerEncoder(self._layer(dim, heads), depth, enable_nested_tensor=False)
        self.encoder_norm = nn.LayerNorm(dim)
        self.to_decoder = nn.Linear(dim, dim)
        self.decoder = nn.TransformerEncoder(self._layer(dim, heads), 1, enable_nested_tensor=False)
        self.decoder_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch_len)

    @staticmethod
    def _layer(dim: int, heads: int) -> nn.TransformerEncoderLayer:
        return nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.1, batch_first=True)

    def patches(self, segments: torch.Tensor) -> torch.Tensor:
        """[s span] -> [s p patch_len]."""
        return segments.unflatten(-1, (-1, self.patch_len))

    def features(self, segments: torch.Tensor) -> torch.Tensor:
        """Encodings [s p d] of every patch of ``segments`` [s span], nothing masked."""
        tokens = self.embed(self.patches(segments)) + self.position
        return self.encoder_norm(self.encoder(tokens))

    def reconstruct(self, segments: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Reconstructed patches [s p patch_len] from the ``visible`` patch indices [s v] of each segment."""
        tokens = self.embed(self.patches(segments)) + self.position  # [s p d]
        index = visible[..., None].expand(-1, -1, tokens.shape[-1])
        encoded = self.encoder_norm(self.encoder(tokens.gather(1, index)))  # [s v d]
        full = (self.mask_token + self.position).expand_as(tokens)
        full = full.scatter(1, index, self.to_decoder(encoded) + self.position[visible])
        return self.head(self.decoder_norm(self.decoder(full)))


def split_patches(count: int, patches: int, mask_ratio: float, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """``(visible [count v], masked [count p] bool)``: ``mask_ratio`` of each segment's patches masked at
    random, at least one and never all."""
    hidden = min(patches - 1, max(1, round(mask_ratio * patches)))
    order = torch.rand(count, patches, generator=generator).argsort(-1)
    masked = torch.zeros(count, patches, dtype=torch.bool).scatter(1, order[:, :hidden], True)
    return order[:, hidden:].sort(-1).values, masked


class ShortFeatureNet(nn.Module):
    """Node features [b n d] from the window's input alone [b l n c] (values and calendar of each step)."""

    def __init__(self, input_len: int, channels: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_len * channels, dim), nn.GELU(), nn.Linear(dim, dim),
                                 nn.LayerNorm(dim))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs.permute(0, 2, 1, 3).flatten(2))


class GraphGenerator(nn.Module):
    """Scores node pairs from node features into edge logits: a shared node encoder, then a scaled
    bilinear score of sender and receiver codes plus a bias."""

    def __init__(self, feature_dim: int, dim: int):
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(feature_dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.sender, self.receiver = nn.Linear(dim, dim, bias=False), nn.Linear(dim, dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(edge logits [b n n], node codes [b n dim])`` of node features [b n d]."""
        codes = self.encode(features)
        scores = self.sender(codes) @ self.receiver(codes).transpose(1, 2) / math.sqrt(codes.shape[-1])
        return scores + self.bias, codes


class TransGTRForecaster(nn.Module):
    """Frozen node feature network -> graph generator -> Gumbel adjacency -> Graph WaveNet."""

    def __init__(self, student: ShortFeatureNet, feature_dim: int, graph_dim: int, temperature: float,
                 backbone_config: dict, protocol: Protocol):
        super().__init__()
        self.student = student.requires_grad_(False)
        self.generator = GraphGenerator(feature_dim, graph_dim)
        self.temperature = temperature
        self.backbone = build_backbone("GWN", **{**backbone_config, "adaptive_graph": True, "in_channels": 3,
                                                 "input_len": protocol.input_len, "output_len": protocol.output_len})

    def codes(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(edge logits, node codes)`` of windows' inputs [b l n 3]."""
        with torch.no_grad():
            features = self.student(inputs)
        return self.generator(features)

    def forward(self, inputs: torch.Tensor, graph: CityGraph) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z-scored forecast [b h n], edges [b n n], node codes [b n dim])``; edges sampled in training."""
        logits, codes = self.codes(inputs)
        edges = gumbel_edges(logits, self.temperature, sample=self.training)
        forecast = self.backbone(inputs, graph, learned_graph=row_normalised_support(edges))[..., 0]
        return forecast, edges, codes
