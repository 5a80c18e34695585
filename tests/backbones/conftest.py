"""Fixtures of the backbone tests (the whole folder runs in seconds on CPU)."""
import pytest
from backbone_helpers import random_adjacency, random_history

from tsjt_basicts.backbones import NodeHistory, graph_for




@pytest.fixture
def cities():
    """Two cities of different sizes; the second has isolated nodes (zero rows and columns)."""
    small = graph_for(random_adjacency(5, seed=1), "small", history=random_history(5, seed=1))
    return [small, graph_for(random_adjacency(9, seed=2, isolated=2), "large", history=random_history(9, seed=2))]
