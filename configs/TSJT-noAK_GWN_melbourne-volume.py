"""TSJT-noAK(GWN), the paper's ablation, on the real melbourne-volume task (target Melbourne; sources Los Angeles, Beijing, Montevideo), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="melbourne-volume", method="TSJT-noAK", backbone="GWN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
