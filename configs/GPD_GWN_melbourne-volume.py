"""GPD_GWN on the melbourne-volume task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="GPD", backbone="GWN", task="melbourne-volume", budget="cpu")
