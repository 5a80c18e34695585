"""TSJT-noAK(GWN), the paper's ablation, on the embedded synthetic cities (target synthetic-shenzhen; results are synthetic), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="synthetic", method="TSJT-noAK", backbone="GWN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
