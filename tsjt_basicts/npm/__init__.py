"""Node Prompting Module (NPM), TSJT paper Sec. "Node Prompting Module", Eqs. 2-7.

A pattern encoder turns each node's recent history into a pattern Z (Eqs. 2-4); a bank of K
prompts is attended with Z as query (Eqs. 5-6); the node prompt P is concatenated to the input,
X~ = [X || P], and A_K(i, j) = cos(P_i, P_j) (Eq. 7) reaches the backbone as a row-stochastic
support. ``diagnostics`` measures how much the prompts and A_K differ between nodes.

Deviations from the paper and the authors' code, stated:
    * Eq. 2 projects X to D' features before adding E_T (the paper adds E_T to X directly).
    * The support handed to the backbones is ``softmax(A_K / tau)`` with a learned temperature
      (the paper does not say how A_K is normalised; Graph WaveNet's ``softmax(relu(.))`` leaves
      every row of a cosine matrix within a factor e of uniform). Other supports: ``NPMConfig.support``.
    * The bank is ``[K, T, D']`` as Eq. 5 writes it; the authors' code keeps ``[K, D', D']``
      matrices and sums them, and uses the unnormalised product P P^T as the graph.
    * LayerNorm over the D' features only (the authors' code normalises over [N, T, D'], which
      ties the module to one node count).
    * The bank starts from N(0, 0.5^2) (``prompt_init_std``; the paper gives none, the authors'
      code uses N(0, 1)): see :class:`PromptBank` for the measurements behind it.
"""
from tsjt_basicts.npm.bank import PromptBank, PromptGraphSupport, prompt_graph
from tsjt_basicts.npm.diagnostics import DIAGNOSTIC_KEYS, DiagnosticsAccumulator, PromptInternals
from tsjt_basicts.npm.encoder import GraphMixing, PatternEncoder, sinusoidal_time_embedding
from tsjt_basicts.npm.model import NodePromptedConfig, NodePromptedModel, wrap_with_npm
from tsjt_basicts.npm.settings import NPMConfig, default_num_prompts

__all__ = [
    "DIAGNOSTIC_KEYS",
    "DiagnosticsAccumulator",
    "GraphMixing",
    "NPMConfig",
    "NodePromptedConfig",
    "NodePromptedModel",
    "PatternEncoder",
    "PromptBank",
    "PromptGraphSupport",
    "PromptInternals",
    "default_num_prompts",
    "prompt_graph",
    "sinusoidal_time_embedding",
    "wrap_with_npm",
]
