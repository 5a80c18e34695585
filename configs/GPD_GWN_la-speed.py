"""GPD_GWN on the la-speed task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="GPD", backbone="GWN", task="la-speed", budget="cpu")
