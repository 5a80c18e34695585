"""AdaRNN baseline (:mod:`baselines.adarnn.method`); importing the package registers it."""
from baselines.adarnn.method import AdaRNNConfig, main, run

__all__ = ["AdaRNNConfig", "main", "run"]
