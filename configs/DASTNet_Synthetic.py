"""DASTNet on the synthetic task under the CPU budget of the comparison suite (tsjt_basicts/suite.py)."""
BASELINE = dict(method="DASTNet", task="synthetic", budget="cpu")
