"""Checks of a baseline's settings before any work: a bad value ends in one :class:`ConfigError` line.

A config field states its rule beside its help text, ``setting(5, "inner steps", AT_LEAST_1)``;
:func:`check_settings` checks every field's type (from its annotation) and rule, and names the
field, what it must be and what it got. Rules between fields (the few-shot days, the backbone and
its fields) have their own functions here.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from tsjt_basicts.backbones import backbone_class, list_backbones
from tsjt_basicts.data.split import VAL_DAYS
from tsjt_basicts.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """What a field's value must satisfy, and how the message says it."""

    holds: Callable[[Any], bool]
    text: str


def setting(default: Any, help: str, rule: Rule | None = None) -> Any:
    """A config field with its help text and the rule :func:`check_settings` checks."""
    return field(default=default, metadata={"help": help, "rule": rule})


def at_least(low: int) -> Rule:
    return Rule(lambda value: value >= low, f">= {low}")


def one_of(*choices: str) -> Rule:
    return Rule(lambda value: value in choices, f"one of {list(choices)}")


AT_LEAST_1 = at_least(1)
POSITIVE = Rule(lambda value: value > 0, "> 0")
NON_NEGATIVE = Rule(lambda value: value >= 0, ">= 0")
OPEN_UNIT = Rule(lambda value: 0 < value < 1, "in (0, 1)")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {  # annotation -> (check, what the message calls it)
    "int": (is_int, "an integer"),
    "float": (is_number, "a finite number"),
    "bool": (lambda value: isinstance(value, bool), "true or false"),
    "str": (lambda value: isinstance(value, str), "a string"),
    "dict": (lambda value: isinstance(value, dict), "a dict"),
}


def check_settings(config: Any) -> None:
    """Check every field of the dataclass ``config`` against its annotated type and its rule."""
    owner = type(config).__name__
    for spec in fields(config):
        value, rule = getattr(config, spec.name), spec.metadata.get("rule")
        typed, kind = TYPES.get(str(spec.type), (lambda _: True, "a value"))
        if not typed(value) or (rule is not None and not rule.holds(value)):
            wanted = f"{kind} {rule.text}" if rule is not None else kind
            helps = spec.metadata.get("help")
            raise ConfigError(f"{owner}.{spec.name} must be {wanted}{f' ({helps})' if helps else ''}, got {value!r}")


def check_few_shot_days(owner: str, target_days: float, val_days: float) -> None:
    """The validation days are carved from the few-shot days, so fewer of them."""
    if not val_days < target_days:
        raise ConfigError(
            f"{owner}: val_days ({val_days}) must be below target_days ({target_days}); lower val_days"
        )


def check_backbone(owner: str, name: str, options: dict, fixed: Iterable[str] = ()) -> None:
    """A registered backbone whose config accepts ``options``; ``fixed`` fields are set by the method."""
    if name not in list_backbones():
        raise ConfigError(f"{owner}: unknown backbone {name!r}; known backbones: {', '.join(list_backbones())}")
    config_class = backbone_class(name).Config
    unknown = sorted(set(options) - set(config_class.field_names()))
    if unknown:
        raise ConfigError(
            f"{owner}: backbone {name!r} has no config field(s) {unknown}; valid fields: {config_class.field_names()}"
        )
    taken = sorted(set(fixed) & set(options))
    if taken:
        raise ConfigError(f"{owner}.backbone_config may not set {taken}: the method sets them; remove them")
    try:
        config_class(**options)
    except (TypeError, ValueError) as error:  # the backbone's own checks of its field values
        raise ConfigError(f"{owner}.backbone_config: {error}") from None


def check_device(device: str) -> None:
    """A torch device this machine has."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"device {device!r} is not a torch device ({error}); use e.g. cpu or cuda:0") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: this machine has no usable CUDA GPU; use cpu")
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s); use cuda:0")


@dataclass
class FineTuneSettings:
    """The settings every trained baseline shares: its few-shot split, its target fine-tuning and the
    validation that picks the step (a baseline's config dataclass derives from this one)."""

    finetune_steps: int = setting(6000, "optimizer steps on the target's few-shot windows", AT_LEAST_1)
    batch_size: int = setting(32, "target windows per fine-tuning step", AT_LEAST_1)
    eval_every: int = setting(200, "fine-tuning steps between validations", AT_LEAST_1)
    target_days: float = setting(3.0, "few-shot days of the target city", POSITIVE)
    val_days: float = setting(VAL_DAYS, "last few-shot days held out to pick the step", NON_NEGATIVE)
    data_seed: int = setting(0, "seed of the synthetic cities (not of training)", NON_NEGATIVE)

    def __post_init__(self) -> None:
        check_settings(self)
        check_few_shot_days(type(self).__name__, self.target_days, self.val_days)
