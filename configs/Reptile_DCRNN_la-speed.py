"""Reptile with DCRNN on the real la-speed task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="DCRNN", task="la-speed", budget="cpu")
