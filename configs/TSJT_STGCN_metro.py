"""TSJT(STGCN) (source ratio by grid search on the validation days) on the real metro task, with the CPU budget shared by every method; STGCN gets X~ and A_K."""
from tsjt_basicts.config import BUDGETS, TRAININGS

EXPERIMENT = dict(task="metro", method="TSJT", backbone="STGCN", budget=BUDGETS["cpu"], training=TRAININGS["cpu"])
