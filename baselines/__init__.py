"""The field's baselines, scored by the shared few-shot protocol (one file each).

* :mod:`baselines.ha`: history average per node and time-of-day slot of the few-shot days.
* :mod:`baselines.arima`: one ARIMA(3,0,1) per node fitted on the few-shot window (Box & Jenkins).
* :mod:`baselines.reptile`, :mod:`baselines.stgfsl`, :mod:`baselines.tpb`: meta-learning / pattern
  transfer from the source cities, then fine-tuning on the target.

All read the same split, windows, metrics and result file as the gradient methods
(:mod:`baselines.common`) and write
``checkpoints/<Method>[_<backbone>]/<task>/<protocol>_seed<k>/<settings digest>/test_metrics.json``
(:func:`baselines.common.baseline_result_path`); their phases are logged and their loops show
progress bars (:mod:`baselines.progress`).
"""
