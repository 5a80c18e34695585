"""TSJT-noAK(GWN), the paper's ablation, on the real la-speed task (target Los Angeles; sources Melbourne, Beijing, Montevideo), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="la-speed", method="TSJT-noAK", backbone="GWN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
