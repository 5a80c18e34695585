"""GPD_GWN on the synthetic task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="GPD", backbone="GWN", task="synthetic", budget="cpu")
