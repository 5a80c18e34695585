"""DSTAGNN (Lan et al., "DSTAGNN: Dynamic Spatial-Temporal Aware Graph Neural Network for Traffic Flow
Forecasting", ICML 2022): the model (``model``), its layers (``layers``) and the STAG it learns from a
city's training history (``stag``)."""
from tsjt_basicts.backbones.dstagnn.model import DSTAGNN, DSTAGNNConfig

__all__ = ["DSTAGNN", "DSTAGNNConfig"]
