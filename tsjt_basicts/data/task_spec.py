"""A task as data: a spec (dict) or a small task file (TOML / JSON), not an edit of the package.

    task = dict(target="my-city", sources=["melbourne", "other"], data_root="path/to/prepared")

or a file ``my_task.toml``::

    name = "my-task"                 # optional; default "<target>-from-<sources>"
    target = "my-city"
    sources = ["melbourne", "other"]
    data_root = "datasets"           # optional; relative to the file's folder
    description = "what it tests"    # optional

A config's ``task``, a baseline config's ``task`` and ``run.py --suite ... --tasks`` take a name,
a spec or a file; spawned processes receive the resolved :class:`Task`, so they read the same data.
"""
from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from tsjt_basicts.data.city import DataError


@dataclass(frozen=True)
class Task:
    """A cross-city few-shot task: a target city and its source cities.

    ``data_root`` (a user's task) is where its prepared cities live; None: the caller's / project's.
    """

    name: str
    target: str
    sources: tuple[str, ...]
    description: str = ""
    data_root: str | None = None


TaskRef = Union[str, Path, Mapping, Task]
SPEC_KEYS = ("name", "target", "sources", "description", "data_root")
TASK_FILE_SUFFIXES = (".toml", ".json")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
SPEC_EXAMPLE = 'dict(target="my-city", sources=["melbourne"], data_root="datasets")'


def is_task_file(task: str | Path) -> bool:
    """Whether ``task`` names a task file (by its suffix) rather than a registered task."""
    return Path(task).suffix.lower() in TASK_FILE_SUFFIXES


def read_task_file(path: str | Path) -> Task:
    """The task of a TOML / JSON file; a relative ``data_root`` is taken from the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"task file {path} not found; write it as in tsjt_basicts/data/task_spec.py")
    try:
        text = path.read_text()
        spec = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"task file {path} is not valid {path.suffix[1:].upper()} ({error}); fix it") from None
    if not isinstance(spec, dict):
        raise DataError(f"task file {path} must hold the keys {', '.join(SPEC_KEYS)}, not a {type(spec).__name__}")
    try:
        return task_from_spec(spec, base_dir=path.parent)
    except DataError as error:
        raise DataError(f"task file {path}: {error}") from None


def task_from_spec(spec: Mapping, base_dir: Path | None = None) -> Task:
    """A :class:`Task` from a spec mapping, every key checked; ``data_root`` made absolute."""
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise DataError(f"task spec has unknown keys {unknown}; a spec holds {', '.join(SPEC_KEYS)}")
    target, sources = spec.get("target"), spec.get("sources")
    if not isinstance(target, str) or not target.strip():
        raise DataError(f"task spec needs a target city name, e.g. {SPEC_EXAMPLE}")
    if isinstance(sources, str) or not isinstance(sources, (list, tuple)) or not sources:
        raise DataError(f"task spec needs sources as a non-empty list of city names, e.g. {SPEC_EXAMPLE}")
    if not all(isinstance(s, str) and s.strip() for s in sources):
        raise DataError(f"task spec sources must be city names (strings), got {list(sources)}")
    if target in sources:
        raise DataError(f"task spec names {target!r} as target and source; a target cannot be its own source")
    if len(set(sources)) != len(sources):
        raise DataError(f"task spec repeats a source city in {list(sources)}; name each source once")
    name = spec.get("name") or f"{target}-from-{'+'.join(sources)}"
    check_task_name(name, derived=not spec.get("name"))
    return Task(name, target, tuple(sources), str(spec.get("description") or ""), absolute_root(spec, base_dir))


def absolute_root(spec: Mapping, base_dir: Path | None) -> str | None:
    """The spec's ``data_root`` as an absolute path (so every process reads the same folder)."""
    root = spec.get("data_root")
    if root is None:
        return None
    if not isinstance(root, (str, Path)) or not str(root).strip():
        raise DataError(f"task spec data_root must be a folder path, got {root!r}")
    path = Path(root).expanduser()
    path = path if path.is_absolute() else (base_dir or Path.cwd()) / path
    if not path.is_dir():
        raise DataError(f"task spec data_root {path} is not a folder; point it at your prepared cities")
    return str(path.resolve())


def check_task_name(name: object, derived: bool = False) -> None:
    """A task name becomes a results folder: letters, digits, '.', '_', '+', '-', not starting with '.'.

    ``derived``: the name was made from the target and sources, so the fix is to add a name.
    """
    if isinstance(name, str) and SAFE_NAME.fullmatch(name):
        return
    allowed = "letters, digits, '.', '_', '+', '-'"
    if derived:
        raise DataError(
            f"task name {name!r}, made from the target and sources, cannot name a results folder; give the task a "
            f'name of {allowed}: name = "my-task" in a task file, name="my-task" in a spec'
        )
    raise DataError(f"task name {name!r} cannot name a results folder; use {allowed}")
