"""Reptile with DCRNN on the real metro task (target Hangzhou, source Beijing), under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="Reptile", backbone="DCRNN", task="metro", budget="cpu")
