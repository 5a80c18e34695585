"""DASTNet on the metro task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="DASTNet", task="metro", budget="cpu")
