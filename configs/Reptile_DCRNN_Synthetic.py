"""Reptile with DCRNN on the embedded synthetic cities (results are synthetic), under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="DCRNN", task="synthetic", budget="cpu")
