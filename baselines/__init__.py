"""The field's baselines, scored by the shared few-shot protocol (one file, or one folder, each).

Each registers itself (:mod:`baselines.registry`: ``@register_baseline`` with its settings
dataclass and one preset per named budget), so the suite and ``run.py`` find every baseline here
without a list to keep:

* :mod:`baselines.ha`: history average per node and time-of-day slot of the few-shot days.
* :mod:`baselines.arima`: one ARIMA(3,0,1) per node fitted on the few-shot window (Box & Jenkins).
* :mod:`baselines.reptile` (any registered backbone), :mod:`baselines.stgfsl`, :mod:`baselines.tpb`:
  meta-learning / pattern transfer from the source cities, then fine-tuning on the target.
* :mod:`baselines.adarnn`: temporal distribution characterisation and matching over the source
  cities' periods and the target's days (AdaRNN).
* :mod:`baselines.dastnet`: domain-adversarial spatial-temporal pre-training on the sources, then a
  private + shared extractor fine-tuned on the target (DASTNet).
* :mod:`baselines.transgtr`: a masked autoencoder distilled into a short-history node feature net
  that generates Graph WaveNet's graph (TransGTR).
* :mod:`baselines.stgp`: a node-agnostic patch encoder pre-trained by masked reconstruction, then
  domain and task prompts learned on the target (STGP).
* :mod:`baselines.gpd`: per-node models of the sources, a diffusion model over their parameters
  sampled per target node from its prompt, then fine-tuned (GPD).
* :mod:`baselines.npm_reptile`: TSJT's NPM model trained with Reptile (the paper's "w/o TSB").

All read the same split, windows, metrics and result file as the gradient methods
(:mod:`baselines.common`) and write
``checkpoints/<Method>[_<backbone>]/<task>/<protocol>_seed<k>/<settings digest>/test_metrics.json``
(:func:`baselines.common.baseline_result_path`); their phases are logged and their loops show
progress bars (:mod:`baselines.progress`).
"""
