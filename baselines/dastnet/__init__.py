"""DASTNet: domain-adversarial spatial embeddings shared across cities, then target fine-tuning.

Tang, Qu, Chow, Lam, Wong & Ma, "Domain Adversarial Spatial-Temporal Network: A Transferable
Framework for Short-term Traffic Forecasting across Cities", CIKM 2022 (arXiv 2202.03630).

1. **Spatial embeddings**: node2vec vectors of each city's road graph (computed once per city graph)
   pass through a per-city GIN-style encoder (:class:`~baselines.dastnet.model.SpatialEncoder`).
2. **Adversarial pre-training** (sources): a GRU over the input steps, shared by every node of every
   city and mixed with the node's spatial embedding, forecasts the source cities; a domain classifier
   behind a gradient reversal layer tries to tell the cities' node embeddings apart, which pushes
   the encoders towards city-invariant embeddings.
3. **Fine-tuning** (target): a private encoder for the target is fused with its shared one and the
   whole model is trained on the few-shot windows, the state picked on the validation days.

:mod:`baselines.dastnet.model` holds the modules, :mod:`baselines.dastnet.baseline` the settings
(its class docstring lists every deviation from the paper and the authors' code), the training and
the registered ``run``.
"""
from baselines.dastnet import baseline  # noqa: F401  (registers the baseline)
