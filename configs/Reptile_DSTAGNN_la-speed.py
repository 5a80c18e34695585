"""Reptile with DSTAGNN on the real la-speed task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="DSTAGNN", task="la-speed", budget="cpu")
