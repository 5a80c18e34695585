"""Reptile with STGCN on the embedded synthetic cities (results are synthetic), under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="STGCN", task="synthetic", budget="cpu")
