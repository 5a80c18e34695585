"""STGP on the la-speed task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="STGP", task="la-speed", budget="cpu")
