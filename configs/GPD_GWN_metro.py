"""GPD_GWN on the metro task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="GPD", backbone="GWN", task="metro", budget="cpu")
