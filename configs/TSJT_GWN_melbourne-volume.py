"""TSJT(GWN) (source ratio by grid search on the validation days) on the real melbourne-volume task (target Melbourne; sources Los Angeles, Beijing, Montevideo), with the CPU budget shared by every method."""
from tsjt_basicts.config import BUDGETS, CPU_GWN, TRAININGS

EXPERIMENT = dict(task="melbourne-volume", method="TSJT", backbone="GWN",
                  budget=BUDGETS["cpu"], training=TRAININGS["cpu"],
                  backbone_config=CPU_GWN)
