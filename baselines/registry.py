"""Name -> baseline registry: every baseline file registers its ``run`` with its settings and presets.

    @register_baseline("Reptile", ReptileConfig, backbones=ANY_BACKBONE,
                       presets={"paper": {}, "cpu": {"meta_iterations": 200}, "smoke": {...}})
    def run(task, seed=0, protocol="strict", out_root="checkpoints", data_root=None, config=None,
            device="cpu") -> dict: ...

The suite, ``run.py`` and the config checks find baselines here (:func:`baseline`,
:func:`list_baselines`), so a new baseline is one new file (or folder) in ``baselines/`` and nothing
else changes. A preset names only what differs from the config's defaults under that budget; the
budget's target fine-tuning (steps, batch, validation interval) and the backbone widths of
:func:`tsjt_basicts.config.backbone_widths` are filled in for every trained baseline alike.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from tsjt_basicts.config import BUDGETS, backbone_widths
from tsjt_basicts.errors import ConfigError

ANY_BACKBONE: tuple[str, ...] = ("*",)  # every registered backbone
NO_BACKBONE: tuple[str, ...] = ()  # fitted on the target alone (HA, ARIMA) or its own model
Run = TypeVar("Run", bound=Callable[..., dict])


@dataclass(frozen=True)
class BaselineSpec:
    """One registered baseline: its ``run``, its settings dataclass (None: no settings beyond the
    protocol's, as HA / ARIMA) and, per named budget, the settings that differ from the defaults."""

    name: str
    run: Callable[..., dict]
    config: type | None
    backbones: tuple[str, ...]
    presets: Mapping[str, Mapping[str, Any]]
    backbone_field: str = "backbone"

    def takes(self) -> list[str]:
        """The backbones (or model variants) a run may name; empty: none ("-")."""
        if self.backbones == ANY_BACKBONE:
            from tsjt_basicts.backbones import list_backbones

            return list_backbones()
        return list(self.backbones)

    def check_backbone(self, backbone: str) -> None:
        """``ConfigError`` naming what this baseline takes when ``backbone`` is not one of them."""
        takes = self.takes()
        if not takes and backbone != "-":
            raise ConfigError(f"{self.name} takes no backbone; remove backbone={backbone!r}")
        if takes and backbone == "-":
            raise ConfigError(f"{self.name} needs a backbone: add backbone=... (one of {', '.join(takes)})")
        if takes and backbone not in takes:
            raise ConfigError(f"unknown backbone {backbone!r} for {self.name}; it takes one of {', '.join(takes)}")

    def settings(self, backbone: str, budget: str) -> Any:
        """The settings of a run with ``backbone`` ("-": none) under named ``budget`` (None without a config)."""
        self.check_backbone(backbone)
        if budget not in BUDGETS:
            raise ConfigError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
        if self.config is None:
            return None
        names, chosen = {f.name for f in fields(self.config)}, BUDGETS[budget]
        shared = {"finetune_steps": chosen.steps, "batch_size": chosen.target_batch, "eval_every": chosen.steps_per_epoch}
        if backbone != "-":
            shared |= {self.backbone_field: backbone, "backbone_config": backbone_widths(backbone, budget)}
        values = {name: value for name, value in shared.items() if name in names}
        return self.config(**{**values, **self.presets[budget]})

    def run_entry(self, task: Any, seed: int, out_root: str, config: Any, device: str) -> dict:
        """Run on ``task`` with ``config`` (from :meth:`settings`) on ``device``."""
        options = {} if self.config is None else {"config": config, "device": device}
        return self.run(task, seed=seed, out_root=out_root, **options)


_REGISTRY: dict[str, BaselineSpec] = {}


def register_baseline(name: str, config: type | None = None, backbones: tuple[str, ...] = NO_BACKBONE,
                      presets: Mapping[str, Mapping[str, Any]] | None = None,
                      backbone_field: str = "backbone") -> Callable[[Run], Run]:
    """Decorator registering a baseline's ``run`` under ``name``; a trained baseline (one with a
    ``config`` dataclass) names a preset for every budget of :data:`tsjt_basicts.config.BUDGETS`."""

    def register(run: Run) -> Run:
        if name in _REGISTRY:
            raise ValueError(f"baseline name {name!r} is already registered by {_REGISTRY[name].run.__module__}")
        spec = BaselineSpec(name, run, config, tuple(backbones), dict(presets or {}), backbone_field)
        check_presets(spec)
        _REGISTRY[name] = spec
        return run

    return register


def check_presets(spec: BaselineSpec) -> None:
    """A preset per budget, each naming only fields of the config."""
    if spec.config is None:
        if spec.presets:
            raise ValueError(f"baseline {spec.name!r} has presets but no config dataclass to apply them to")
        return
    missing = sorted(set(BUDGETS) - set(spec.presets))
    extra = sorted(set(spec.presets) - set(BUDGETS))
    if missing or extra:
        raise ValueError(f"baseline {spec.name!r}: presets must name exactly the budgets {sorted(BUDGETS)} "
                         f"(missing {missing}, unknown {extra})")
    names = {f.name for f in fields(spec.config)}
    for budget, preset in spec.presets.items():
        unknown = sorted(set(preset) - names)
        if unknown:
            raise ValueError(f"baseline {spec.name!r}: preset {budget!r} sets {unknown}, not fields of "
                             f"{spec.config.__name__}")


def load_baselines() -> None:
    """Import every module and package of ``baselines/``: importing a baseline registers it."""
    import baselines

    for module in pkgutil.iter_modules(baselines.__path__):
        importlib.import_module(f"baselines.{module.name}")


def baseline(name: str) -> BaselineSpec:
    """The baseline registered as ``name``; ``ConfigError`` listing the known ones otherwise."""
    if name not in _REGISTRY:
        load_baselines()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown baseline {name!r}; known baselines: {', '.join(list_baselines())}")
    return _REGISTRY[name]


def list_baselines() -> list[str]:
    """Every registered baseline name, sorted."""
    load_baselines()
    return sorted(_REGISTRY)
