"""STGP on the metro task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="STGP", task="metro", budget="cpu")
