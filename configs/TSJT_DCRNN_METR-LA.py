"""TSJT(DCRNN) with target METR-LA (3 days) and the paper's other three cities as sources.

Needs the real series of all four cities: see datasets/README.md (python -m tsjt_basicts.data.prepare).
"""
EXPERIMENT = dict(task="METR-LA", method="TSJT", backbone="DCRNN")
