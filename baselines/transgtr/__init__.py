"""TransGTR: a graph generator, transferable across cities, feeding Graph WaveNet.

Jin, Chen & Yang, "Transferable Graph Structure Learning for Graph-based Traffic Forecasting Across
Cities", KDD 2023 (authors' code: github KL4805/TransGTR).

1. **Masked autoencoder** (sources): a TSFormer-style transformer over the patches of each node's long
   history (:mod:`baselines.long_history`) learns to reconstruct masked patches.
2. **Node feature network** (sources): a network that sees only a window's input is distilled to the
   frozen autoencoder's encoding of the same steps, so a target with a few days of data gets the
   features without a long history.
3. **Graph generator + Graph WaveNet**: node pairs are scored from those features into a Gumbel-softmax
   adjacency, handed to GWN as a row-normalised learned support; trained on the sources with a degree
   regulariser and a CORAL term between source and target node codes, then fine-tuned on the target.

:mod:`baselines.transgtr.model` holds the modules and losses, :mod:`baselines.transgtr.training` the
phases, :mod:`baselines.transgtr.baseline` the settings (its class docstring lists every deviation from
the paper and the authors' code) and the registered ``run``.
"""
from baselines.transgtr import baseline  # noqa: F401  (registers the baseline)
