"""Name -> backbone class registry: ``@register_backbone("GWN")``, ``build_backbone``, ``list_backbones``."""
from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any, TypeVar

from tsjt_basicts.backbones.base import Backbone

_REGISTRY: dict[str, type[Backbone]] = {}
B = TypeVar("B", bound=type[Backbone])


def register_backbone(name: str) -> Callable[[B], B]:
    """Class decorator registering a :class:`Backbone` subclass under ``name`` (raises on a duplicate)."""

    def register(cls: B) -> B:
        if not (isinstance(cls, type) and issubclass(cls, Backbone)):
            raise TypeError(f"@register_backbone({name!r}) decorates Backbone subclasses, got {cls!r}")
        if name in _REGISTRY:
            taken = _REGISTRY[name]
            raise ValueError(
                f"backbone name {name!r} is already registered by {taken.__module__}.{taken.__qualname__}; "
                "choose another name"
            )
        _REGISTRY[name] = cls
        return cls

    return register


def backbone_class(name: str) -> type[Backbone]:
    """The class registered as ``name``; ``ValueError`` listing the known names otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backbone {name!r}; known backbones: {', '.join(list_backbones()) or 'none'}")
    return _REGISTRY[name]


def build_backbone(name: str, **cfg: Any) -> Backbone:
    """Build backbone ``name`` from config fields ``cfg`` (the others keep the model's defaults).

    An unknown field raises ``ValueError`` listing the valid ones: a typo never passes silently.
    """
    cls = backbone_class(name)
    valid = cls.Config.field_names()
    unknown = sorted(set(cfg) - set(valid))
    if unknown:
        raise ValueError(f"backbone {name!r} has no config field(s) {unknown}; valid fields: {valid}")
    return cls(cls.Config(**cfg))


def list_backbones(pattern: str | None = None) -> list[str]:
    """Registered names, sorted; ``pattern`` filters with shell wildcards, case-insensitively ("*CN*")."""
    names = sorted(_REGISTRY)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatch(n.lower(), pattern.lower())]
