"""Graph algorithms shared by several methods (node embeddings of a city's graph)."""
from tsjt_basicts.graphs.node2vec import node2vec_embeddings, node2vec_walks

__all__ = ["node2vec_embeddings", "node2vec_walks"]
