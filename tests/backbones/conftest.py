"""Fixtures of the backbone tests (the whole folder runs in seconds on CPU)."""
import pytest
from backbone_helpers import random_adjacency

from tsjt_basicts.backbones import graph_for




@pytest.fixture
def cities():
    """Two cities of different sizes; the second has isolated nodes (zero rows and columns)."""
    small = graph_for(random_adjacency(5, seed=1), "small")
    return [small, graph_for(random_adjacency(9, seed=2, isolated=2), "large")]
