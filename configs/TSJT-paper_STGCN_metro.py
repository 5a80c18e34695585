"""TSJT-paper(STGCN), TSJT at the paper's source ratio, on the real metro task (target Hangzhou, source Beijing), with the CPU budget shared by every method; STGCN gets X~ and A_K."""
from tsjt_basicts.config import BUDGETS, TRAININGS

EXPERIMENT = dict(task="metro", method="TSJT-paper", backbone="STGCN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"])
