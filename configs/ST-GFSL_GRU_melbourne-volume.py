"""ST-GFSL_GRU on the melbourne-volume task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="ST-GFSL", backbone="GRU", task="melbourne-volume", budget="cpu")
