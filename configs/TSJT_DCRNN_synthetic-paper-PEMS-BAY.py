"""TSJT(DCRNN) on synthetic-paper-PEMS-BAY, with the paper's budget; results are synthetic.

A synthetic stand-in for the paper's PEMS-BAY task at its scale: 325 nodes, 52,116 5-minute steps on the real
PEMS-BAY road graph; target 3 days; sources the synthetic METR-LA, Chengdu, Shenzhen. TSJT picks its source
ratio by grid search on the validation days (5 runs). Needs only the shared road graphs
(tsjt_basicts/data/synthetic_paper.py). On a GPU: python run.py -c <this file> --gpus 0
"""
from tsjt_basicts.config import BUDGETS, TRAININGS

EXPERIMENT = dict(task="synthetic-paper-PEMS-BAY", method="TSJT", backbone="DCRNN",
                  budget=BUDGETS["paper"], training=TRAININGS["paper"])
