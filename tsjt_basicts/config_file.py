"""A user's config file (``configs/*.py``) read and checked before any work, every mistake one line.

A config file defines ``EXPERIMENT`` (keyword arguments of
:func:`tsjt_basicts.config.experiment_config`) or ``BASELINE``. Every check here names the file
and the fix: a file that fails to import (its line), an unknown key (where it belongs, e.g.
``num_epochs`` -> ``budget=Budget(steps=...)``, or the key it resembles), a value of the wrong
type, an unknown method, backbone or named budget / training. ``budget`` and ``training`` may be
given by name (``budget="smoke"``): :data:`~tsjt_basicts.config.BUDGETS`, ``TRAININGS``.
"""
from __future__ import annotations

import difflib
import importlib.util
import os
import traceback
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

from tsjt_basicts.errors import ConfigError, UserError, check_output_folder

CONFIG_KINDS = ("EXPERIMENT", "BASELINE")
# keys people bring from other code bases -> the Budget / Training field that sets it
ALIASES = {"num_epochs": "steps", "epochs": "steps", "num_steps": "steps", "max_steps": "steps",
           "batch_size": "target_batch", "learning_rate": "lr"}
MINIMUM = {"seed": 0, "data_seed": 0, "num_prompts": 1, "prompt_dim": 1}  # integer keys and their least value


def line_in(error: BaseException, path: str) -> int | None:
    """The line of ``path`` where ``error`` arose (its innermost frame in that file)."""
    if isinstance(error, SyntaxError):
        return error.lineno
    target = os.path.abspath(path)
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if os.path.abspath(frame.filename) == target]
    return lines[-1] if lines else None


def import_config(path: str) -> types.ModuleType:
    """Run config file ``path``; a failure becomes one :class:`ConfigError` naming the file and line."""
    if not Path(path).is_file():
        raise ConfigError(f"config file {path!r} not found; give one of configs/ "
                          "(e.g. configs/TSJT-paper_GWN_Synthetic.py)")
    spec = importlib.util.spec_from_file_location(Path(path).stem.replace("-", "_"), path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"config file {path!r} is not a Python file; give a .py file defining EXPERIMENT or BASELINE")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - whatever the user's file raises is reported as its mistake
        line = line_in(error, path)
        where = f"{path} line {line}" if line else path
        message = error.msg if isinstance(error, SyntaxError) else str(error)
        what = message if isinstance(error, UserError) else f"{type(error).__name__}: {message}"
        raise ConfigError(f"{where}: {what}; fix the config file") from error
    return module


def load_config(path: str) -> tuple[str, dict]:
    """``("EXPERIMENT" | "BASELINE", the dict)`` of a config file, which defines one of them."""
    module = import_config(path)
    defined = [kind for kind in CONFIG_KINDS if isinstance(getattr(module, kind, None), dict)]
    if len(defined) > 1:
        raise ConfigError(f"config file {path!r} defines both {' and '.join(defined)}; keep the one to run "
                          "(one config file per experiment)")
    if not defined:
        raise ConfigError(f"config file {path!r} must define EXPERIMENT = dict(...) or BASELINE = dict(...)")
    return defined[0], dict(getattr(module, defined[0]))


def key_hint(key: str, known: list[str]) -> str:
    """Where an unknown EXPERIMENT ``key`` belongs, or the known key it resembles."""
    from tsjt_basicts.config import BUDGETS, Budget, Training

    name = ALIASES.get(key, key)
    for argument, cls in (("budget", Budget), ("training", Training)):
        if name in {f.name for f in fields(cls)}:
            per_epoch = ", steps_per_epoch=..." if name == "steps" else ""
            named = f" or a named budget ({', '.join(BUDGETS)})" if cls is Budget else ""
            return f"{key!r} is set by {argument}={cls.__name__}({name}=...{per_epoch}){named}"
    close = difflib.get_close_matches(key, known, n=1)
    return f"{key!r} is unknown" + (f" (did you mean {close[0]!r}?)" if close else "")


def matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits type hint ``hint`` (unions, None, int for float; generics by their origin)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, member) for member in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    cls = origin or hint
    return not isinstance(cls, type) or isinstance(value, cls)


def describe(hint: Any) -> str:
    """A type hint in words: ``int``, ``Budget or None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(describe(member) for member in typing.get_args(hint))
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))


def resolve_named(experiment: dict, key: str, presets: dict[str, Any], path: str) -> None:
    """Replace a named ``budget`` / ``training`` (a string) by its preset."""
    value = experiment.get(key)
    if isinstance(value, str):
        if value not in presets:
            raise ConfigError(f"EXPERIMENT of {path}: unknown {key} {value!r}; use one of {', '.join(presets)}")
        experiment[key] = presets[value]


def check_experiment(experiment: dict, path: str) -> dict:
    """``experiment`` with named budget / training resolved; :class:`ConfigError` for the first mistake."""
    from tsjt_basicts.backbones import list_backbones
    from tsjt_basicts.config import BUDGETS, METHODS, TRAININGS, experiment_config

    hints = typing.get_type_hints(experiment_config)
    known = [name for name in hints if name != "return"]
    unknown = [key for key in experiment if key not in known]
    if unknown:
        hints_text = "; ".join(key_hint(key, known) for key in unknown)
        raise ConfigError(f"EXPERIMENT of {path}: {hints_text}; known keys: {', '.join(known)}")
    if "task" not in experiment:
        raise ConfigError(f"EXPERIMENT of {path} has no task; add task='synthetic' (or a task name, spec or file)")
    experiment = dict(experiment)
    resolve_named(experiment, "budget", BUDGETS, path)
    resolve_named(experiment, "training", TRAININGS, path)
    for key, value in experiment.items():
        if not matches(value, hints[key]):
            raise ConfigError(f"EXPERIMENT of {path}: {key}={value!r} is not {describe(hints[key])}")
    if experiment.get("method", "TSJT") not in METHODS:
        raise ConfigError(f"EXPERIMENT of {path}: unknown method {experiment['method']!r}; known: {', '.join(METHODS)} "
                          "(baselines such as HA are run from BASELINE = dict(method=..., task=..., budget=...))")
    if experiment.get("backbone", "GWN") not in list_backbones():
        raise ConfigError(f"EXPERIMENT of {path}: unknown backbone {experiment['backbone']!r}; "
                          f"known: {', '.join(list_backbones())}")
    for key, least in MINIMUM.items():
        if experiment.get(key) is not None and experiment[key] < least:
            raise ConfigError(f"EXPERIMENT of {path}: {key}={experiment[key]} must be >= {least}")
    check_nested(experiment, path)
    check_folders(experiment, path)
    return experiment


def check_folders(experiment: dict, path: str) -> None:
    """``ckpt_root`` can be made, and ``data_root`` does not contradict the task's own ``data_root``."""
    from tsjt_basicts.data.tasks import resolve_task

    check_output_folder(experiment.get("ckpt_root", "checkpoints"), f"EXPERIMENT of {path}: ckpt_root")
    data_root = experiment.get("data_root")
    own = resolve_task(experiment["task"]).data_root if data_root is not None else None
    if own is not None and Path(own).resolve() != Path(data_root).resolve():
        raise ConfigError(f"EXPERIMENT of {path}: data_root={data_root!r} contradicts the task's own data_root "
                          f"{own!r}, which it would not change; remove one of them")


def check_nested(experiment: dict, path: str) -> None:
    """Field names of ``backbone_config`` / ``npm_options`` (``Training`` checks its own values)."""
    from tsjt_basicts.backbones import backbone_class
    from tsjt_basicts.npm import NPMConfig

    fields_of = {
        "backbone_config": backbone_class(experiment.get("backbone", "GWN")).Config.field_names(),
        "npm_options": [f.name for f in fields(NPMConfig) if f.name not in ("num_prompts", "prompt_dim")],
    }
    for key, known in fields_of.items():
        unknown = sorted(set(experiment.get(key) or {}) - set(known))
        if unknown:
            raise ConfigError(f"EXPERIMENT of {path}: {key} has no field {', '.join(unknown)}; "
                              f"its fields: {', '.join(known)}")
