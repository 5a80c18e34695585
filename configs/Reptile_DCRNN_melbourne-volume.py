"""Reptile with DCRNN on the real melbourne-volume task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="DCRNN", task="melbourne-volume", budget="cpu")
