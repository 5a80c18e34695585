"""Reptile with DSTAGNN on the real metro task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="DSTAGNN", task="metro", budget="cpu")
