"""TargetOnly(GWN), GWN trained on the target alone, on the controlled transfer task synthetic-harmful (synthetic; sources harmful by construction), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="synthetic-harmful", method="TargetOnly", backbone="GWN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
