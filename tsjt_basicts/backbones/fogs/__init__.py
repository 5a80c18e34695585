"""FOGS backbone (IJCAI 2022): the learned graph (``graph``) and the STFGNN network (``model``)."""
from tsjt_basicts.backbones.fogs.graph import FOGSGraph, fogs_graph, localized_graph
from tsjt_basicts.backbones.fogs.model import FOGS, FOGSConfig

__all__ = ["FOGS", "FOGSConfig", "FOGSGraph", "fogs_graph", "localized_graph"]
