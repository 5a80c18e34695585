"""The shared protocol as a BasicTS dataset: what every method's runner iterates over.

BasicTS builds ``dataset_type(**dataset_params, mode=...)`` once per mode. Every item is already
a batch (the loader runs with ``batch_size=None``) because cities of different node counts cannot
be stacked:

* train: one joint step (:class:`~tsjt_basicts.data.windows.JointSteps`), the target sub-batch
  plus ``"sources"``, a list with one sub-batch per source city; ``target_batch`` and
  ``source_batch`` are per process, so DDP on W GPUs trains on W times the batch per step;
* val / test: consecutive target windows, ``eval_batch_size`` at a time.

Each batch dict holds ``inputs`` [B, T, N, 3], z-scored ``targets`` [B, H, N] (0 where missing),
``targets_mask``, the city's ``scale`` (mean, std) for de-normalising, and its ``graph``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import torch
from torch.utils.data import Dataset

from tsjt_basicts.backbones import CityGraph
from tsjt_basicts.data.city import City, DataError
from tsjt_basicts.data.split import Protocol, split_source, split_target
from tsjt_basicts.data.task_spec import Task
from tsjt_basicts.data.tasks import load_task, resolve_task
from tsjt_basicts.data.windows import Batch, CityWindows, JointSteps, SourceAllocation, city_windows


MODES = ("train", "val", "test")


@dataclass(frozen=True)
class TaskData:
    """The cities of one task under one protocol."""

    target: City
    sources: tuple[City, ...]

    @cached_property
    def digest(self) -> str:
        """A digest of every city's series, graph and calendar: a run's identity covers its data."""
        digest = hashlib.blake2b(digest_size=8)
        for city in (self.target, *self.sources):
            calendar = (city.name, city.interval_minutes, city.steps_per_day, city.start_day_of_week,
                        city.start_step_of_day, city.zero_is_missing, city.series.shape)
            digest.update(repr(calendar).encode())
            digest.update(np.ascontiguousarray(city.series))
            digest.update(np.ascontiguousarray(city.adjacency))
        return digest.hexdigest()


@lru_cache(maxsize=4)
def cached_task(task: Task, data_root: str | None, data_seed: int, protocol: Protocol) -> TaskData:
    """Load a task once per process (BasicTS builds one dataset per mode).

    ``data_seed`` only matters for generated (synthetic) cities; the training seed is separate, so
    runs with different seeds see the same data.
    """
    target, sources = load_task(task, data_root=data_root, seed=data_seed, protocol=protocol)
    return TaskData(target, tuple(sources))


def as_basicts_batch(batch: Batch, windows: CityWindows, graph: CityGraph) -> dict:
    """A window batch in the BasicTS dict convention, targets z-scored with the city's scaler."""
    scaler = windows.scaler
    return {
        "inputs": batch.inputs,
        "targets": torch.where(batch.mask, scaler.transform(batch.targets), 0.0),
        "targets_mask": batch.mask,
        "scale": torch.tensor([scaler.mean, scaler.std]),
        "graph": graph,
    }


def process_rank() -> int:
    """This process's DDP rank (0 without DDP)."""
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else 0


class CrossCityDataset(Dataset):
    """Target and source cities of ``task`` split by the shared few-shot protocol.

    Args:
        dataset_name: the task name (``"synthetic"``, ``"metro"``, ``"METR-LA"``, ...).
        task_spec: a user's task (the fields of :class:`~tsjt_basicts.data.task_spec.Task`); None:
            the registered task ``dataset_name``.
        data_digest: the digest of the data the config was built on; other data is refused.
        mode: BasicTS mode ``"train"``, ``"val"`` or ``"test"``.
        use_sources: False trains on the target's few-shot windows alone (target-only).
        seed: draws of training windows; data_seed: the generated cities (synthetic task).
        steps_per_epoch: training steps per epoch (None: one pass over the target's windows).
        val_days: 0 (default) validates on the few-shot training windows themselves, so no data
            beyond the few-shot budget is used; > 0 carves a validation part out of them.
    """

    def __init__(
        self,
        dataset_name: str,
        mode: str,
        input_len: int = 12,
        output_len: int = 6,
        protocol: str = "strict",
        target_days: float = 3.0,
        val_days: float = 0.0,
        test_fraction: float = 0.2,
        use_sources: bool = True,
        target_batch: int = 4,
        source_batch: int = 124,
        source_allocation: SourceAllocation = "uniform",
        eval_batch_size: int = 64,
        steps_per_epoch: int | None = None,
        seed: int = 0,
        data_seed: int = 0,
        data_root: str | None = None,
        task_spec: dict | None = None,
        data_digest: str | None = None,
    ):
        self.mode = str(getattr(mode, "value", mode))
        if self.mode not in MODES:
            raise ValueError(f"unknown dataset mode {self.mode!r}; BasicTS modes are {MODES}")
        self.protocol = Protocol(protocol, target_days, val_days, test_fraction, input_len, output_len)
        spec = Task(**{**task_spec, "sources": tuple(task_spec["sources"])}) if task_spec else dataset_name
        task = cached_task(resolve_task(spec), data_root, data_seed, self.protocol)
        if data_digest is not None and task.digest != data_digest:
            raise DataError(
                f"task {dataset_name!r}: its data changed since this run's config was made (digest {task.digest}, "
                f"config {data_digest}); start a new run instead of resuming this one"
            )
        self.target = task.target
        split = split_target(task.target, self.protocol)
        if self.mode == "train":
            if use_sources and not task.sources:
                raise DataError(f"task {dataset_name!r} has no source city; use a target-only method")
            sources = task.sources if use_sources else ()
            self.source_windows = [city_windows(c, split_source(c), "train", self.protocol) for c in sources]
            self.source_graphs = [windows.graph for windows in self.source_windows]
            self.target_windows = city_windows(task.target, split, "train", self.protocol)
            self.steps = JointSteps(
                self.target_windows, self.source_windows, target_batch, source_batch, source_allocation, seed,
                process_rank(), steps_per_epoch,
            )
        else:
            part = "test" if self.mode == "test" else ("val" if split.val is not None else "train")
            self.target_windows = city_windows(task.target, split, part, self.protocol)
            self.eval_batch_size = eval_batch_size
        self.target_graph = self.target_windows.graph

    def set_epoch(self, epoch: int) -> None:
        """New target batches for ``epoch`` (training only)."""
        self.steps.set_epoch(epoch)

    def __len__(self) -> int:
        if self.mode == "train":
            return len(self.steps)
        return -(-len(self.target_windows) // self.eval_batch_size)

    def __getitem__(self, index: int) -> dict:
        if self.mode == "train":
            step = self.steps[index]
            item = as_basicts_batch(step.target, self.target_windows, self.target_graph)
            item["sources"] = [
                as_basicts_batch(batch, windows, graph)
                for batch, windows, graph in zip(step.sources, self.source_windows, self.source_graphs)
            ]
            return item
        first = index * self.eval_batch_size
        positions = np.arange(first, min(first + self.eval_batch_size, len(self.target_windows)))
        return as_basicts_batch(self.target_windows.batch(positions), self.target_windows, self.target_graph)
