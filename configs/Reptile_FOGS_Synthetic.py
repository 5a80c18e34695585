"""Reptile with FOGS on the embedded synthetic task (synthetic data) under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="FOGS", task="synthetic", budget="cpu")
