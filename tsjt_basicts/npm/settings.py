"""Settings of the node prompting module (NPM)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tsjt_basicts.errors import ConfigError

ScoreScale = Literal["sqrt_d", "sqrt_td", "none"]
SupportKind = Literal["temperature", "relu_rownorm", "topk", "softmax_relu"]
SCORE_SCALES: tuple[str, ...] = ("sqrt_d", "sqrt_td", "none")
SUPPORT_KINDS: tuple[str, ...] = ("temperature", "relu_rownorm", "topk", "softmax_relu")


def default_num_prompts(num_nodes: int) -> int:
    """The paper's bank size K: half the target city's nodes (at least one)."""
    return max(1, num_nodes // 2)


@dataclass
class NPMConfig:
    """Settings of the node prompting module (defaults: the paper's Eq. 5 and the measured choices)."""

    num_prompts: int = field(metadata={"help": "K, prompts in the bank (paper: half the target city's nodes)"})
    prompt_dim: int = field(default=16, metadata={"help": "D', feature size of patterns and prompts"})
    num_heads: int = field(default=2, metadata={"help": "heads of the temporal self-attention"})
    score_scale: ScoreScale = field(
        default="sqrt_d",
        metadata={"help": "bank score <Z_i, B_k>_F scaled by 1/sqrt(D') (Eq. 5), 1/sqrt(T D'), or 'none'"},
    )
    prompt_init_std: float = field(default=0.5, metadata={"help": "std of the normal initialisation of the bank"})
    support: SupportKind = field(
        default="temperature",
        metadata={"help": "row-stochastic support built from A_K: " + ", ".join(SUPPORT_KINDS)},
    )
    support_temperature: float = field(
        default=0.1, metadata={"help": "initial temperature of softmax(A_K / tau) ('temperature', learned)"}
    )
    support_top_k: int = field(default=10, metadata={"help": "neighbours kept per row ('topk')"})
    dropout: float = field(default=0.0, metadata={"help": "dropout inside the encoder"})

    def __post_init__(self) -> None:
        for name in ("num_prompts", "prompt_dim", "num_heads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"NPMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.prompt_dim % self.num_heads:
            raise ConfigError(f"prompt_dim ({self.prompt_dim}) must be divisible by num_heads ({self.num_heads})")
        if self.score_scale not in SCORE_SCALES:
            raise ConfigError(f"unknown score_scale {self.score_scale!r}; use one of {SCORE_SCALES}")
        if self.support not in SUPPORT_KINDS:
            raise ConfigError(f"unknown prompt-graph support {self.support!r}; use one of {SUPPORT_KINDS}")
        if self.prompt_init_std <= 0 or self.support_temperature <= 0 or self.support_top_k < 1:
            raise ConfigError("prompt_init_std and support_temperature must be > 0 and support_top_k >= 1")
