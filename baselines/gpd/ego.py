"""Ego graphs: each node with its k-hop neighbours, padded to one size so per-node models batch.

A node's neighbours are the nodes joined to it by an edge in either direction (``A_ij > 0`` or
``A_ji > 0``), as in the authors' code; ``hops`` repeats that. :func:`ego_nodes` returns the exact
set (the node first); :func:`ego_graphs` keeps at most ``size`` of them per node (nearer hops
first, then heavier edges) and pads the rest with masked slots.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tsjt_basicts.backbones.layers.graph import transition_operator


def undirected_neighbours(adjacency: np.ndarray) -> list[np.ndarray]:
    """Per node, the other nodes joined to it by an edge in either direction (self-loops ignored)."""
    linked = (adjacency > 0) | (adjacency.T > 0)
    np.fill_diagonal(linked, False)
    return [np.flatnonzero(row) for row in linked]


def ego_nodes(adjacency: np.ndarray, node: int, hops: int) -> np.ndarray:
    """The node followed by every node within ``hops`` edges of it, nearer hops first, each hop
    ordered by its strongest edge weight to the hop before (descending, then by index)."""
    return ego_order(undirected_neighbours(adjacency), np.maximum(adjacency, adjacency.T), node, hops)


def ego_order(neighbours: list[np.ndarray], weight: np.ndarray, node: int, hops: int) -> np.ndarray:
    """:func:`ego_nodes` from the graph's precomputed neighbour lists and symmetric weights."""
    order, seen, frontier = [node], {node}, [node]
    for _ in range(hops):
        found = {v for u in frontier for v in neighbours[u] if v not in seen}
        strength = {v: max(weight[u, v] for u in frontier if weight[u, v] > 0) for v in found}
        frontier = sorted(found, key=lambda v: (-strength[v], v))
        order += frontier
        seen |= found
    return np.asarray(order, dtype=np.int64)


@dataclass
class EgoGraphs:
    """Padded ego graphs of ``M`` centre nodes, ``K = size`` slots each (slot 0: the centre).

    index: [M, K] city node of each slot (0 at padding); valid: [M, K] real slots;
    supports: [M, 2, K, K] forward / backward transition operators of each ego subgraph
    (``operator @ x`` mixes slots; padding rows and columns are zero).
    """

    index: torch.Tensor
    valid: torch.Tensor
    supports: torch.Tensor

    def to(self, device: torch.device | str) -> "EgoGraphs":
        return EgoGraphs(self.index.to(device), self.valid.to(device), self.supports.to(device))

    def gather(self, inputs: torch.Tensor) -> torch.Tensor:
        """City inputs [B, T, N, C] -> each ego graph's inputs [M, C, B, K, T], zero at padding."""
        picked = inputs[:, :, self.index]  # [B T M K C]
        picked = picked * self.valid[None, None, :, :, None]
        return picked.permute(2, 4, 0, 3, 1).contiguous()


def ego_graphs(adjacency: np.ndarray, centres: np.ndarray, hops: int, size: int) -> EgoGraphs:
    """The padded :class:`EgoGraphs` of ``centres`` in the city of ``adjacency`` [N, N]."""
    count = len(centres)
    index = np.zeros((count, size), dtype=np.int64)
    valid = np.zeros((count, size), dtype=bool)
    supports = np.zeros((count, 2, size, size), dtype=np.float32)
    neighbours, weight = undirected_neighbours(adjacency), np.maximum(adjacency, adjacency.T)
    for row, centre in enumerate(centres):
        kept = ego_order(neighbours, weight, int(centre), hops)[:size]
        index[row, : len(kept)], valid[row, : len(kept)] = kept, True
        sub = np.asarray(adjacency, dtype=np.float64)[np.ix_(kept, kept)]
        supports[row, 0, : len(kept), : len(kept)] = transition_operator(sub)
        supports[row, 1, : len(kept), : len(kept)] = transition_operator(sub, reverse=True)
    return EgoGraphs(torch.from_numpy(index), torch.from_numpy(valid).float(), torch.from_numpy(supports))
