"""ST-GFSL_GRU on the synthetic task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="ST-GFSL", backbone="GRU", task="synthetic", budget="cpu")
