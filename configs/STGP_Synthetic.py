"""STGP on the synthetic task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="STGP", task="synthetic", budget="cpu")
