"""Joint(GWN), plain joint training (equal weights), on the controlled transfer task synthetic-helpful (synthetic; sources helpful by construction), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="synthetic-helpful", method="Joint", backbone="GWN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
