"""ST-GFSL_GRU on the metro task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="ST-GFSL", backbone="GRU", task="metro", budget="cpu")
