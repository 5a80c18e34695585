"""TransGTR_GWN on the metro task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="TransGTR", backbone="GWN", task="metro", budget="cpu")
