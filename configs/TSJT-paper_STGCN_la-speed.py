"""TSJT-paper(STGCN), TSJT at the paper's source ratio, on the real la-speed task (target Los Angeles; sources Melbourne, Beijing, Montevideo), with the CPU budget shared by every method; STGCN gets X~ and A_K."""
from tsjt_basicts.config import BUDGETS, TRAININGS

EXPERIMENT = dict(task="la-speed", method="TSJT-paper", backbone="STGCN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"])
