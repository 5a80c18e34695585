"""FOGS backbone: STFGNN's localised spatio-temporal graph convolutions on FOGS's learned graph,
trained to predict the trend (increments from the last observed step)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from tsjt_basicts.backbones.base import Backbone, BackboneConfig
from tsjt_basicts.backbones.fogs.graph import block_kinds, fogs_graph
from tsjt_basicts.backbones.layers import DilatedGatedConv, propagate
from tsjt_basicts.backbones.layers.graph import CityGraph
from tsjt_basicts.backbones.registry import register_backbone
from tsjt_basicts.errors import ConfigError


@dataclass
class FOGSConfig(BackboneConfig):
    """FOGS settings; defaults follow the authors' PEMS runs (STFGNN/config/PEMS0*.conf)."""

    embedding_channels: int = field(default=64, metadata={"help": "width of the first 1x1 layer"})
    hidden_channels: int = field(default=64, metadata={"help": "width of every localised graph conv"})
    num_layers: int = field(default=3, metadata={"help": "spatio-temporal layers (each shortens t by strides - 1)"})
    convs_per_layer: int = field(default=3, metadata={"help": "stacked localised graph convs per window"})
    output_hidden: int = field(default=128, metadata={"help": "hidden width of each horizon's output MLP"})
    strides: int = field(default=4, metadata={"help": "steps k of the localised spatio-temporal graph (>= 3)"})
    spatial_embedding: bool = field(default=True, metadata={"help": "add projected node2vec embeddings per layer"})
    predict_trend: bool = field(
        default=True, metadata={"help": "first-order supervision: predict increments on the last observed value"}
    )
    node2vec_dim: int = field(default=128, metadata={"help": "node2vec size of each of the two embeddings"})
    node2vec_epochs: int = field(default=10, metadata={"help": "skip-gram epochs of node2vec"})
    graph_neighbours: int = field(default=10, metadata={"help": "k of the temporal and learned kNN graphs"})
    adaptive_graph: bool = field(
        default=False, metadata={"help": "weights for a learned per-sample support (TSJT's A_K) on every step"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least_1("embedding_channels", "hidden_channels", "num_layers", "convs_per_layer",
                                "output_hidden", "node2vec_dim", "node2vec_epochs", "graph_neighbours")
        if self.strides < 3:
            raise ConfigError(f"FOGSConfig.strides must be >= 3 (the road graph sits on inner steps), got {self.strides}")
        if self.output_steps < 1:
            raise ConfigError(
                f"FOGSConfig: {self.num_layers} layers with strides={self.strides} need input_len > "
                f"{self.num_layers * (self.strides - 1)}, got {self.input_len}; use fewer layers or smaller strides"
            )

    @property
    def output_steps(self) -> int:
        """Steps left after the layers: the output MLPs read them all."""
        return self.input_len - self.num_layers * (self.strides - 1)


def last_observed(values: torch.Tensor) -> torch.Tensor:
    """``[b n]`` each series' latest non-zero value (missing inputs are 0 once z-scored), 0 if none."""
    # values: [b t n]
    steps = torch.arange(1, values.shape[1] + 1, device=values.device)[None, :, None]
    latest = ((values != 0) * steps).amax(dim=1)  # [b n], 0: never observed
    picked = values.gather(1, (latest - 1).clamp(min=0)[:, None]).squeeze(1)
    return torch.where(latest > 0, picked, torch.zeros_like(picked))


class LocalizedMix(nn.Module):
    """Product with the localised ``[k N, k N]`` graph, as a sum over its ``k x k`` blocks, each scaled
    by a learned weight (node-agnostic stand-in for STFGNN's ``[kN, kN]`` mask); with ``learned_support``,
    ``v_i S x_i`` is added on every step i.

    The road graph only acts on the inner steps and the learned graph on the first and last (their
    block columns), so each is applied to those steps alone; one product over k then mixes the terms.
    """

    def __init__(self, steps: int, learned_support: bool):
        super().__init__()
        self.register_buffer("kinds", torch.from_numpy(block_kinds(steps)).float(), persistent=False)
        self.block_weights = nn.Parameter(torch.ones(steps, steps))
        self.support_weights = nn.Parameter(torch.ones(steps, 1)) if learned_support else None

    def coefficients(self) -> torch.Tensor:
        """``[k, 2k]``: step i's weights on x_j (all j), road x_j (inner j), learned x_j (first, last j)."""
        identity, road, learned = self.block_weights * self.kinds  # [k k] each
        return torch.cat([identity, road[:, 1:-1], learned[:, :: len(learned) - 1]], dim=1)

    def forward(self, x: torch.Tensor, road: torch.Tensor, learned: torch.Tensor,
                support: torch.Tensor | None) -> torch.Tensor:
        # x: [n b w k c] -> [n b w k c]; road, learned: [n n]; support: [b n n] or None
        k = x.shape[3]
        terms = torch.cat([x, propagate(road, x[:, :, :, 1:-1]), propagate(learned, x[:, :, :, :: k - 1])], dim=3)
        out = torch.matmul(self.coefficients().to(x.dtype), terms.reshape(-1, 2 * k, x.shape[-1])).view(x.shape)
        if support is not None and self.support_weights is not None:
            out = out + self.support_weights * propagate(support, x)
        return out


class WindowGLU(nn.Module):
    """STFGNN's ``gcn_operation`` after the graph product: a GLU 1x1 layer with its own weights per window."""

    def __init__(self, windows: int, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(windows, in_channels, 2 * out_channels))
        self.bias = nn.Parameter(torch.zeros(windows, 2 * out_channels))
        nn.init.xavier_uniform_(self.weight.view(-1, 2 * out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [n b w k c] -> [n b w k c_out]
        lhs, rhs = (torch.einsum("nbwkc,wcd->nbwkd", x, self.weight) + self.bias[:, None]).chunk(2, dim=-1)
        return lhs * torch.sigmoid(rhs)


class LocalizedLayer(nn.Module):
    """One STFGNN layer (STSGCL): embeddings added, ``t - k + 1`` sliding windows of k steps, each through
    stacked localised graph convs whose outputs at the window's second step are max-pooled (STSGCM),
    plus the gated dilated temporal conv (kernel 2, dilation k - 1) as residual."""

    def __init__(self, steps_in: int, in_channels: int, config: FOGSConfig):
        super().__init__()
        c, k = config, config.strides
        windows = steps_in - k + 1
        self.strides = k
        self.temporal_embedding = nn.Parameter(torch.empty(steps_in, in_channels))
        nn.init.xavier_normal_(self.temporal_embedding, gain=3e-4)  # the authors' init
        self.spatial_embedding = nn.Linear(2 * c.node2vec_dim, in_channels) if c.spatial_embedding else None
        self.mixes = nn.ModuleList(LocalizedMix(k, c.adaptive_graph) for _ in range(c.convs_per_layer))
        widths = [in_channels] + [c.hidden_channels] * c.convs_per_layer
        self.convs = nn.ModuleList(WindowGLU(windows, widths[i], widths[i + 1]) for i in range(c.convs_per_layer))
        self.residual = DilatedGatedConv(in_channels, c.hidden_channels, 2, k - 1)

    def forward(self, x: torch.Tensor, road: torch.Tensor, learned: torch.Tensor, embeddings: torch.Tensor,
                support: torch.Tensor | None) -> torch.Tensor:
        # x: [n b t c] -> [n b t - k + 1 c_hidden]
        x = x + self.temporal_embedding
        if self.spatial_embedding is not None:
            x = x + self.spatial_embedding(embeddings)[:, None, None]
        h = x.unfold(2, self.strides, 1).transpose(3, 4)  # h: [n b w k c]
        pooled, last = [], len(self.convs) - 1
        for i, (mix, conv) in enumerate(zip(self.mixes, self.convs)):
            h = mix(h, road, learned, support)
            if i == last:  # only the window's second step is kept (STFGNN's rows N..2N): skip the others
                h = h[:, :, :, 1:2]
            h = conv(h)
            pooled.append(h[:, :, :, 1 if i < last else 0])
        return torch.stack(pooled).amax(dim=0) + self.residual(x)


@register_backbone("FOGS")
class FOGS(Backbone):
    """FOGS: First-Order Gradient Supervision with Learning-based Graph (Rao, Wang, Zhang, Li, Shang &
    Han, IJCAI 2022) on STFGNN's localised spatio-temporal graph (Li & Zhu, AAAI 2021).

    Per city, once (:func:`~tsjt_basicts.backbones.fogs.graph.fogs_graph`): node2vec embeddings of the
    road graph and of a temporal kNN graph, a kNN graph learned from them, and the localised graph over
    ``strides`` steps. The network (the authors' STFGNN code): a ReLU 1x1 layer; ``num_layers``
    localised layers of ``convs_per_layer`` GLU graph convs per sliding window (own weights per window),
    max-pooled, plus a gated dilated temporal conv; one two-layer MLP per horizon over the remaining
    steps. First-order supervision: the network outputs increments and the forecast is the last observed
    input value (channel 0, the z-scored value) plus them, for every output channel.
    Defaults: widths 64, 3 layers of 3 convs, output MLPs of 128, strides 4, node2vec of 128 x 2, k = 10.

    Deviations from the paper and the authors' code:
        * Trend: the authors train on relative changes ``(y - x_T) / x_T`` of raw flows and evaluate
          ``(1 + out) x_T``; here increments of the z-scored value, ``y = x_T + out`` (z-scores cross 0,
          so a ratio is undefined), inside the model; the loss is the project's masked MAE on the values,
          not on the trend. Missing inputs (0 once z-scored) are skipped back to the latest non-zero step,
          as the authors' ``change_input``; a series never observed in the window is anchored at 0 (the
          authors fall back to the slot's mean flow, then to 5). The optional trend-bias embedding
          (``nn.Embedding(288, N * horizon)``, off in the authors' runs) is not implemented.
        * Learned graph: the authors embed one node2vec walk on the (unweighted) road graph whose steps
          are redrawn up to 20 times until they land on a temporal neighbour of the walk's start; here
          two plain node2vec embeddings (road graph with its weights, temporal graph), concatenated.
        * Temporal graph from DAILY profiles (``history.daily_profiles()``, mean per slot over the
          training days, NaN skipped; distances over the slots both nodes observed): the authors use
          weekly profiles (7 x 288 slots) of the training range, which with 3 target days would leave
          four weekdays all zero. Zero-valued flows count as observed unless the city marks them missing.
        * The road graph keeps the city's edge weights, symmetrised (the authors: 0/1 connectivity).
        * STFGNN's ``[kN, kN]`` learned mask (initialised to the graph) is replaced by one learned weight per
          ``[N, N]`` block (``k x k``, initialised to 1) per graph conv, so no parameter depends on N; its
          spatial embedding (``[N, C]`` per layer) by a linear projection of the city's node2vec embeddings.
        * ``strides`` other than 4 generalise the block layout (outer diagonal and corner blocks learned,
          inner diagonal blocks road, other blocks identity); the residual conv maps to ``hidden_channels``.
        * ``adaptive_graph=True`` (TSJT) adds ``v_i S x_i`` on every step's diagonal block for a per-sample
          learned support S (off by default: FOGS has none; ``supports_learned_graph`` is True only so that
          TSJT can pass its A_K).
        * Initialisation: PyTorch defaults (Xavier-uniform for the per-window GLU weights); the authors
          re-initialise every matrix with Xavier-normal of gain 3e-4 (kept for the temporal embeddings).
        * Heads emit ``out_channels`` per horizon (6 horizons by default, 12 in the original);
          ``in_channels`` is 3 (value, time of day, day of week; 1 in the original).
    """

    Config = FOGSConfig
    supports_learned_graph = True

    def __init__(self, config: FOGSConfig):
        super().__init__(config)
        c = config
        self.start = nn.Linear(c.in_channels, c.embedding_channels)
        steps = [c.input_len - i * (c.strides - 1) for i in range(c.num_layers)]
        widths = [c.embedding_channels] + [c.hidden_channels] * (c.num_layers - 1)
        self.layers = nn.ModuleList(LocalizedLayer(t, w, c) for t, w in zip(steps, widths))
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(c.output_steps * c.hidden_channels, c.output_hidden), nn.ReLU(),
                          nn.Linear(c.output_hidden, c.out_channels))
            for _ in range(c.output_len)
        )

    def trend_forecast(self, history: torch.Tensor, increments: torch.Tensor) -> torch.Tensor:
        """``[b t_out n c_out]``: increments on the last observed input value (or the increments alone)."""
        if not self.config.predict_trend:
            return increments
        return increments + last_observed(history[..., 0])[:, None, :, None]

    def forward(
        self, history: torch.Tensor, graph: CityGraph, learned_graph: torch.Tensor | None = None
    ) -> torch.Tensor:
        # history: [b t n c] -> [b t_out n c_out]
        self.check_inputs(history, graph, learned_graph)
        c = self.config
        city = fogs_graph(graph, c.node2vec_dim, c.graph_neighbours, c.node2vec_epochs)
        road, learned, embeddings = city.tensors(history.device, history.dtype, graph.layout == "sparse")
        support = self.learned_operator(learned_graph)
        support = support[0] if support else None
        x = torch.relu(self.start(history.permute(2, 0, 1, 3)))  # x: [n b t c]
        for layer in self.layers:
            x = layer(x, road, learned, embeddings, support)
        features = x.flatten(2)  # [n b t' c]: [n b (t' c)]
        increments = torch.stack([head(features) for head in self.heads])  # [t_out n b c_out]
        return self.trend_forecast(history, increments.permute(2, 0, 1, 3))
