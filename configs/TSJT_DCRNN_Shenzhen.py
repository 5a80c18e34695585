"""TSJT(DCRNN) with target Shenzhen (3 days) and the paper's other three cities as sources.

Needs the real series of all four cities: see datasets/README.md (python -m tsjt_basicts.data.prepare).
"""
EXPERIMENT = dict(task="Shenzhen", method="TSJT", backbone="DCRNN")
