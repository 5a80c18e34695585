"""Reptile with FOGS on the real metro task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="FOGS", task="metro", budget="cpu")
