"""STGP on the melbourne-volume task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="STGP", task="melbourne-volume", budget="cpu")
