"""A baseline run's result file: where it lands, and that nothing already there is lost.

A run's settings (method, backbone, task, seed, protocol and its whole config) are hashed into the
last folder of its result, as BasicTS's md5 folders do for the gradient methods::

    <out_root>/<method>[_<backbone>]/<task>/<protocol>_seed<k>/<settings digest>/test_metrics.json

so a run under another budget gets a file of its own. The record keeps the settings digest and a
digest of the task's data; a file there made with other settings or data is never overwritten
(the run is refused with the file named), and one run of a config at a time holds its folder.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.engine.dataset import TaskData
from tsjt_basicts.results import RESULT_FILE, run_folder, write_result
from tsjt_basicts.run_lock import run_lock

logger = logging.getLogger(__name__)
DIGEST_LENGTH = 12  # hex digits of the settings' md5 in the folder name


def settings_digest(settings: dict) -> str:
    """A short md5 of the settings' JSON (keys sorted): equal settings, equal digest."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.md5(text.encode()).hexdigest()[:DIGEST_LENGTH]


def data_digest(target: City, sources: list[City]) -> str:
    """The digest of a task's data (every city's series, graph and calendar), as the gradient methods keep it."""
    return TaskData(target, tuple(sources)).digest


def result_location(out_root: str, task_name: str, settings: dict) -> Path:
    """``<out_root>/<method>[_<backbone>]/<task>/<protocol>_seed<k>/<settings digest>/test_metrics.json``."""
    folder = run_folder(out_root, settings["method"], settings["backbone"], task_name, settings["protocol"],
                        settings["seed"])
    return Path(folder) / settings_digest(settings) / RESULT_FILE


@dataclass(frozen=True)
class ResultFile:
    """The result file of one baseline run and the identity (settings, data) a file there must share."""

    path: Path
    task_name: str
    settings: dict
    data_digest: str

    @property
    def digest(self) -> str:
        return settings_digest(self.settings)

    def meta(self) -> dict:
        """What the record says about the run besides its metrics."""
        spec = {} if isinstance(self.settings["task"], str) else {"task_spec": self.settings["task"]}
        return {
            "method": self.settings["method"], "backbone": self.settings["backbone"], "task": self.task_name, **spec,
            "seed": self.settings["seed"], "config": self.settings["config"], "settings_digest": self.digest,
            "data_digest": self.data_digest,
        }

    def check_free(self) -> None:
        """Refuse when ``path`` holds a result of other settings or data, or one that cannot be read
        (a result of the same settings and data may be replaced: it is the same run again)."""
        if not self.path.exists():
            return
        try:
            held = json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DataError(f"{self.path} is there but unreadable ({error}); move it away to run this config") from None
        held = held if isinstance(held, dict) else {}
        if held.get("settings_digest") != self.digest:
            other = f"other settings (digest {held.get('settings_digest')}, this run {self.digest})"
        elif held.get("data_digest") != self.data_digest:
            other = f"other data (data digest {held.get('data_digest')}, now {self.data_digest}: its data changed)"
        else:
            return
        raise DataError(f"{self.path} holds a result made with {other}; it is kept: move it away to run this config")

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the run lock of the result's folder for the block; folders it made and left empty are removed."""
        folder = self.path.parent
        made = list(itertools.takewhile(lambda p: not p.exists(), (folder, *folder.parents)))  # deepest first
        try:
            with run_lock(str(folder)):
                yield
        finally:
            for empty in made:
                if empty.is_dir():
                    if any(empty.iterdir()):
                        break
                    empty.rmdir()

    def write(self, record: dict) -> Path:
        """Write ``record`` atomically, checking once more that nothing of other settings arrived meanwhile."""
        replacing = self.path.exists()
        self.check_free()
        path = Path(write_result(str(self.path.parent), record, self.path.name))
        again = " (replacing the result of the same settings and data)" if replacing else ""
        logger.info("%s: result written to %s%s", self.settings["method"], path, again)
        return path
