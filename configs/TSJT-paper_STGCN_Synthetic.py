"""TSJT-paper(STGCN), TSJT at the paper's source ratio, on the embedded synthetic cities (target synthetic-shenzhen; results are synthetic), with the CPU budget shared by every method; STGCN gets X~ and A_K."""
from tsjt_basicts.config import BUDGETS, TRAININGS

EXPERIMENT = dict(task="synthetic", method="TSJT-paper", backbone="STGCN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"])
