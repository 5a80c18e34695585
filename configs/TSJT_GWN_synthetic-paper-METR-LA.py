"""TSJT(GWN) on synthetic-paper-METR-LA, with the paper's budget; results are synthetic.

A synthetic stand-in for the paper's METR-LA task at its scale: 207 nodes, 34,272 5-minute steps on the real
METR-LA road graph; target 3 days; sources the synthetic PEMS-BAY, Chengdu, Shenzhen. TSJT picks its source
ratio by grid search on the validation days (5 runs). Needs only the shared road graphs
(tsjt_basicts/data/synthetic_paper.py). On a GPU: python run.py -c <this file> --gpus 0
"""
from tsjt_basicts.config import BUDGETS, TRAININGS

EXPERIMENT = dict(task="synthetic-paper-METR-LA", method="TSJT", backbone="GWN",
                  budget=BUDGETS["paper"], training=TRAININGS["paper"])
