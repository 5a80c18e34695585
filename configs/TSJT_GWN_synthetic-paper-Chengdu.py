"""TSJT(GWN) on synthetic-paper-Chengdu, with the paper's budget; results are synthetic.

A synthetic stand-in for the paper's Chengdu task at its scale: 524 nodes, 17,280 10-minute steps on the real
Chengdu road graph; target 3 days; sources the synthetic METR-LA, PEMS-BAY, Shenzhen. TSJT picks its source
ratio by grid search on the validation days (5 runs). Needs only the shared road graphs
(tsjt_basicts/data/synthetic_paper.py). On a GPU: python run.py -c <this file> --gpus 0
"""
from tsjt_basicts.config import BUDGETS, TRAININGS

EXPERIMENT = dict(task="synthetic-paper-Chengdu", method="TSJT", backbone="GWN",
                  budget=BUDGETS["paper"], training=TRAININGS["paper"])
