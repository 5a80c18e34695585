"""Any registered backbone wrapped by the NPM: X~ = [X || P] and the prompt graph's support."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from tsjt_basicts.backbones import CityGraph, backbone_class, build_backbone
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.npm.bank import PromptBank, PromptGraphSupport, prompt_graph
from tsjt_basicts.npm.diagnostics import PromptInternals
from tsjt_basicts.npm.encoder import PatternEncoder
from tsjt_basicts.npm.settings import NPMConfig


@dataclass
class NodePromptedConfig:
    """A backbone wrapped by the NPM; the switches give the paper's ablations."""

    backbone: str = field(metadata={"help": "registered backbone name, e.g. 'GWN'"})
    npm: NPMConfig | None = field(default=None, metadata={"help": "prompt module; None = 'w/o NPM'"})
    prompt_graph: bool = field(default=True, metadata={"help": "hand A_K's support to the backbone; False = 'w/o A_K'"})
    in_channels: int = field(default=3, metadata={"help": "input channels C of X"})
    input_len: int = field(default=12, metadata={"help": "input steps T"})
    output_len: int = field(default=6, metadata={"help": "forecast steps"})
    backbone_config: dict = field(default_factory=dict, metadata={"help": "other backbone settings (registry defaults)"})

    def __post_init__(self) -> None:
        clash = {"in_channels", "input_len", "output_len"} & set(self.backbone_config)
        if clash:
            raise ConfigError(f"set {sorted(clash)} on NodePromptedConfig itself, not inside backbone_config")
        check_backbone_settings(self)

    @property
    def uses_prompt_graph(self) -> bool:
        """A_K reaches the backbone: an NPM, the switch on, and a backbone that can take a learned graph."""
        return self.npm is not None and self.prompt_graph and backbone_class(self.backbone).supports_learned_graph


def backbone_settings(config: NodePromptedConfig) -> dict:
    """The backbone's config fields; a backbone given A_K is built with its learned-graph weights."""
    settings = dict(config.backbone_config)
    if config.uses_prompt_graph:
        if settings.get("adaptive_graph") is False:
            raise ConfigError(
                f"{config.backbone} with adaptive_graph=False cannot take the prompt graph A_K; drop that setting, "
                "or set prompt_graph=False for the 'w/o A_K' ablation"
            )
        settings["adaptive_graph"] = True
    return settings


def check_backbone_settings(config: NodePromptedConfig) -> None:
    """Build the backbone's config once, so that a bad field or width fails here, before any work."""
    backbone_config = backbone_class(config.backbone).Config
    settings = {**backbone_settings(config), "input_len": config.input_len, "output_len": config.output_len}
    unknown = sorted(set(settings) - set(backbone_config.field_names()))
    if unknown:
        raise ConfigError(f"{config.backbone} has no field {', '.join(unknown)}; "
                          f"its fields: {', '.join(backbone_config.field_names())}")
    backbone_config(**settings)


class NodePromptedModel(nn.Module):
    """TSJT's model (paper Fig. 2): NPM (Eqs. 2-7) in front of any registered backbone.

    The backbone reads X~ = [X || P] and, unless 'w/o A_K', a row-stochastic support built from
    A_K (:class:`PromptGraphSupport`) as an extra graph of its graph convolutions (Graph WaveNet's
    adaptive support; an extra support of STGCN's and DCRNN's). BasicTS forward convention:
    ``forward(inputs [B, T, N, C], graph) -> [B, T_out, N]``.
    """

    def __init__(self, config: NodePromptedConfig):
        super().__init__()
        self.config = config
        npm = config.npm
        prompt_channels = npm.prompt_dim if npm is not None else 0
        self.backbone = build_backbone(
            config.backbone,
            in_channels=config.in_channels + prompt_channels,
            input_len=config.input_len,
            output_len=config.output_len,
            **backbone_settings(config),
        )
        self.encoder = PatternEncoder(npm, config.in_channels, config.input_len) if npm is not None else None
        self.bank = PromptBank(npm, config.input_len) if npm is not None else None
        self.uses_prompt_graph = config.uses_prompt_graph
        self.support = PromptGraphSupport(npm) if self.uses_prompt_graph else None

    def check_inputs(self, inputs: torch.Tensor, graph: CityGraph) -> None:
        """Raise ``ValueError`` naming the problem before any layer sees a misfit batch or graph."""
        expected = (self.config.input_len, self.config.in_channels)
        if inputs.dim() != 4 or (inputs.shape[1], inputs.shape[3]) != expected:
            raise ValueError(
                f"inputs must be [B, {expected[0]}, N, {expected[1]}] (input_len, in_channels of the model), "
                f"got {list(inputs.shape)}"
            )
        if not isinstance(graph, CityGraph):
            raise TypeError(f"graph must be the batch city's CityGraph, got {type(graph).__name__}")
        graph.check_nodes(inputs.shape[2])

    def node_prompts(self, inputs: torch.Tensor, graph: CityGraph) -> tuple[torch.Tensor, torch.Tensor]:
        """Eqs. 2-6: the attention over the bank ``[B, N, K]`` and the node prompts P ``[B, N, T, D']``."""
        if self.encoder is None:
            raise ValueError("this model has no NPM ('w/o NPM'): it has no prompts")
        attention = self.bank.attention(self.encoder(inputs, graph))
        return attention, self.bank(attention)

    def prompt_internals(self, inputs: torch.Tensor, graph: CityGraph) -> PromptInternals:
        """Attention over the bank, A_K (Eq. 7) and the support the backbone gets, for diagnostics."""
        attention, prompt = self.node_prompts(inputs, graph)
        graph_k = prompt_graph(prompt)
        return PromptInternals(attention, graph_k, self.support(graph_k) if self.support is not None else None)

    def forward(self, inputs: torch.Tensor, graph: CityGraph) -> torch.Tensor:
        # inputs: [b t n c] -> [b t_out n]
        self.check_inputs(inputs, graph)
        learned_graph = None
        if self.encoder is not None:
            _, prompt = self.node_prompts(inputs, graph)  # [b n t d]
            inputs = torch.cat([inputs, prompt.permute(0, 2, 1, 3)], dim=-1)
            if self.support is not None:
                learned_graph = self.support(prompt_graph(prompt))  # [b n n], rows sum to 1
        return self.backbone(inputs, graph, learned_graph)[..., 0]


def wrap_with_npm(backbone: str, npm: NPMConfig | None, prompt_graph: bool = True, **backbone_config) -> NodePromptedModel:
    """Turn a registered backbone into an NPM model, e.g. ``wrap_with_npm("GWN", NPMConfig(num_prompts=100))``."""
    return NodePromptedModel(NodePromptedConfig(backbone, npm, prompt_graph, backbone_config=backbone_config))
