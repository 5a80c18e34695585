"""TSJT-noNPM(GWN), the paper's ablation, on the real metro task (target Hangzhou, source Beijing), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="metro", method="TSJT-noNPM", backbone="GWN", budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
