"""Layers shared by the backbones: graph operators, graph convolutions, temporal convolutions, cells."""
from tsjt_basicts.backbones.layers.graph import (
    OPERATORS,
    CityGraph,
    check_graph,
    clear_graph_cache,
    graph_for,
    scaled_laplacian,
    transition_operator,
)
from tsjt_basicts.backbones.layers.graph_conv import ChebGraphConv, DiffusionGraphConv, diffusion_terms, propagate
from tsjt_basicts.backbones.layers.recurrent import DCGRUCell, DiffusionLinear
from tsjt_basicts.backbones.layers.temporal import (
    ChannelAlign,
    ChannelBatchNorm,
    DilatedGatedConv,
    TemporalConv,
    TimeConv,
)

__all__ = [
    "OPERATORS",
    "ChannelAlign",
    "ChannelBatchNorm",
    "ChebGraphConv",
    "CityGraph",
    "DCGRUCell",
    "DiffusionGraphConv",
    "DiffusionLinear",
    "DilatedGatedConv",
    "TemporalConv",
    "TimeConv",
    "check_graph",
    "clear_graph_cache",
    "diffusion_terms",
    "graph_for",
    "propagate",
    "scaled_laplacian",
    "transition_operator",
]
