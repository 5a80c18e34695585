"""Spatio-temporal backbones (STGCN, Graph WaveNet, DCRNN) behind one registry and one forward contract.

    from tsjt_basicts.backbones import build_backbone, graph_for, list_backbones

    list_backbones()                                    # ['DCRNN', 'GWN', 'STGCN']
    model = build_backbone("GWN", residual_channels=32)  # unknown fields raise ValueError
    graph = graph_for(city.adjacency, city.name)         # operators built once per city, cached
    forecast = model(history, graph, learned_graph)      # [B, 12, N, 3] -> [B, 6, N, 1]

``BasicTSBackbone`` / ``BasicTSBackboneConfig`` (imported on first use) run any of them in plain
BasicTS 1.1.0 on one city.
"""
from tsjt_basicts.backbones.base import Backbone, BackboneConfig
from tsjt_basicts.backbones.dcrnn import DCRNN, DCRNNConfig
from tsjt_basicts.backbones.dstagnn import DSTAGNN, DSTAGNNConfig
from tsjt_basicts.backbones.fogs import FOGS, FOGSConfig
from tsjt_basicts.backbones.gwn import GWN, GWNConfig
from tsjt_basicts.backbones.layers.graph import CityGraph, NodeHistory, clear_graph_cache, graph_for
from tsjt_basicts.backbones.registry import backbone_class, build_backbone, list_backbones, register_backbone
from tsjt_basicts.backbones.stgcn import STGCN, STGCNConfig  # importing a model module registers it

__all__ = [
    "DCRNN",
    "DSTAGNN",
    "FOGS",
    "GWN",
    "STGCN",
    "Backbone",
    "BackboneConfig",
    "BasicTSBackbone",
    "BasicTSBackboneConfig",
    "CityGraph",
    "DCRNNConfig",
    "DSTAGNNConfig",
    "FOGSConfig",
    "GWNConfig",
    "NodeHistory",
    "STGCNConfig",
    "backbone_class",
    "build_backbone",
    "clear_graph_cache",
    "graph_for",
    "list_backbones",
    "register_backbone",
]


def __getattr__(name: str):
    # the BasicTS wrapper imports basicts (and easytorch): load it only when asked for
    if name in ("BasicTSBackbone", "BasicTSBackboneConfig"):
        from tsjt_basicts.backbones import basicts_model

        return getattr(basicts_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
