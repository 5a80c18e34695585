"""Fixtures of the backbone tests (the whole folder runs in seconds on CPU)."""
import pytest
import torch
from backbone_helpers import random_adjacency

from tsjt_basicts.backbones import clear_graph_cache, graph_for


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads, and spinning threads stall badly on a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _fresh_graph_cache():
    clear_graph_cache()
    yield
    clear_graph_cache()


@pytest.fixture
def cities():
    """Two cities of different sizes; the second has isolated nodes (zero rows and columns)."""
    small = graph_for(random_adjacency(5, seed=1), "small")
    return [small, graph_for(random_adjacency(9, seed=2, isolated=2), "large")]
