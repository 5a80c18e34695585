"""STGP: a node-agnostic spatio-temporal patch model pre-trained by masked reconstruction, then prompted.

Hu, Liu, Fan, Yin, Xiang, Ramasamy & Zimmermann, "Prompt-Based Spatio-Temporal Graph Transfer
Learning", CIKM 2024 (arXiv 2405.12452).

1. **One template** for every task: a grid of node x patch tokens, some kept, the rest masked and
   reconstructed. Forecasting keeps each node's history patches and reconstructs the future patch.
2. **Pre-training** (sources): a temporal transformer over each node's kept patches and a
   Graphormer-style spatial encoder over the city's kept nodes (degree embeddings, attention biases
   from the road graph's edge weights), gated together, then a graph decoder and head reconstruct
   randomly masked patches and nodes (:mod:`baselines.stgp.model`, :mod:`baselines.stgp.layers`).
3. **Two-stage prompting** (target, network frozen): domain prompts on the encoders' inputs learned
   by masked reconstruction on the few-shot days, then forecasting task prompts on the decoder's
   input learned by the forecast's error, the state picked on the validation days.

:mod:`baselines.stgp.baseline` holds the settings (its class docstring says how windows of 12 -> 6
steps are patched and lists every deviation from the paper and the authors' code), the stages and the
registered ``run``; :mod:`baselines.stgp.segments` the samples, masks and the masked-patch loss.
"""
from baselines.stgp import baseline  # noqa: F401  (registers the baseline)
