"""TransGTR_GWN on the melbourne-volume task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="TransGTR", backbone="GWN", task="melbourne-volume", budget="cpu")
