"""TSJT(STGCN) with target PEMS-BAY (3 days) and the paper's other three cities as sources.

Needs the real series of all four cities: see datasets/README.md (python -m tsjt_basicts.data.prepare).
"""
EXPERIMENT = dict(task="PEMS-BAY", method="TSJT", backbone="STGCN")
