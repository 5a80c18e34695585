"""Fixtures of the whole suite: one torch thread, and a fresh graph cache per test."""
import pytest
import torch

from tsjt_basicts.backbones import clear_graph_cache


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test models are tiny: threads gain nothing, and spinning threads stall a busy 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _fresh_graph_cache():
    clear_graph_cache()
    yield
    clear_graph_cache()
