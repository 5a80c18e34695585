"""ST-GFSL_GRU on the la-speed task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="ST-GFSL", backbone="GRU", task="la-speed", budget="cpu")
