"""Small widths, tiny graphs and batches shared by the backbone tests."""
import numpy as np
import torch

from tsjt_basicts.backbones import NodeHistory

SMALL = {
    "STGCN": {"block_channels": (16, 8, 16), "adaptive_graph": True},
    "GWN": {"residual_channels": 8, "dilation_channels": 8, "skip_channels": 16, "end_channels": 16, "dropout": 0.0},
    "DCRNN": {"hidden_size": 16, "adaptive_graph": True},
    "DSTAGNN": {"num_blocks": 2, "channels": 8, "d_model": 16, "d_k": 4, "num_heads": 2, "end_channels": 16,
                "dropout": 0.0, "adaptive_graph": True},
    "FOGS": {"embedding_channels": 8, "hidden_channels": 8, "num_layers": 2, "convs_per_layer": 2, "output_hidden": 16,
             "node2vec_dim": 4, "node2vec_epochs": 1, "graph_neighbours": 3, "adaptive_graph": True},
}


def random_adjacency(nodes: int, seed: int, isolated: int = 0) -> np.ndarray:
    """A weighted directed graph with self-loops; the last ``isolated`` nodes have no edge at all."""
    rng = np.random.default_rng(seed)
    adj = (rng.random((nodes, nodes)) < 0.4) * rng.random((nodes, nodes))
    np.fill_diagonal(adj, 1.0)
    if isolated:
        adj[-isolated:, :] = 0.0
        adj[:, -isolated:] = 0.0
    return adj.astype(np.float32)


def random_history(nodes: int, seed: int, days: int = 3, steps_per_day: int = 24) -> NodeHistory:
    """Training-range values of a city (daily cycle plus noise, a few unobserved), for data-learned graphs."""
    rng = np.random.default_rng(seed)
    steps = np.arange(days * steps_per_day)[:, None]
    values = 50 + 20 * np.sin(2 * np.pi * steps / steps_per_day + rng.random(nodes)) + rng.normal(0, 3, (len(steps), nodes))
    values[rng.random(values.shape) < 0.05] = np.nan
    return NodeHistory(values, steps_per_day, first_slot=0)


def history_batch(batch: int, nodes: int, seed: int = 0, channels: int = 3) -> torch.Tensor:
    return torch.randn(batch, 12, nodes, channels, generator=torch.Generator().manual_seed(seed))


def learned_graph_for(name: str, batch: int, nodes: int, seed: int = 0) -> torch.Tensor:
    """A per-sample support whose rows sum to 1, as TSJT's NPM hands it to every backbone."""
    scores = torch.randn(batch, nodes, nodes, generator=torch.Generator().manual_seed(seed)) * 3
    return scores.softmax(dim=-1)
