"""Statistical baselines of the target city alone, scored by the shared few-shot protocol.

* :mod:`baselines.ha`: history average per node and time-of-day slot of the few-shot days.
* :mod:`baselines.arima`: one ARIMA(3,0,1) per node fitted on the few-shot window (Box & Jenkins).

Both read the same split, windows, metrics and result file as the gradient methods
(:mod:`baselines.common`) and write ``checkpoints/<Method>/<task>/<protocol>_seed<k>/test_metrics.json``.
"""
