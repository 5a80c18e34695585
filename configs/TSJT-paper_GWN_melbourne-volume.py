"""TSJT-paper(GWN), TSJT at the paper's source ratio 1e-6 / 2e-4, on the real melbourne-volume task (target Melbourne; sources Los Angeles, Beijing, Montevideo), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="melbourne-volume", method="TSJT-paper", backbone="GWN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
