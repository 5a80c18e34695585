"""GPD: generative pre-training of per-node model parameters, generated for the target from node prompts.

Yuan, Ding, Jin & Li, "Spatio-Temporal Few-Shot Learning via Diffusive Neural Network Generation",
ICLR 2024 (github tsinghua-fib-lab/GPD).

1. **Per-node models** (sources): a small Graph WaveNet on each node's ego graph (the node and its
   k-hop neighbours), one per sampled source node, all trained at once as one batch
   (:mod:`baselines.gpd.node_model`, :mod:`baselines.gpd.ego`).
2. **Generative pre-training**: a conditional DDPM with a transformer denoiser learns the flattened
   parameter vectors of those models given each node's prompt, a description of its neighbourhood
   and daily pattern from training data only (:mod:`baselines.gpd.diffusion`, :mod:`baselines.gpd.prompts`).
3. **Generation** (target): a parameter vector is sampled for every target node from its prompt;
   the generated models are fine-tuned on the few-shot windows, the step picked on the validation days.

:mod:`baselines.gpd.method` holds the settings (its class docstring lists every deviation from the
paper and the authors' code) and the registered ``run``; :mod:`baselines.gpd.training` the loops.
"""
from baselines.gpd import method  # noqa: F401  (registers the baseline)
