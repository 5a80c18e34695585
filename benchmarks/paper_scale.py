"""Shared parts of the paper-scale benchmarks (issue #15): the four cities' graphs, random batches of
their sizes, the TSJT step as TSJTRunner takes it, the plain joint step, timers and memory meters.

Not a script: ``bench_tsjt_step.py``, ``bench_memory.py`` and ``bench_projection.py`` import it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from basicts.metrics import masked_mae

from tsjt_basicts.backbones import CityGraph
from tsjt_basicts.backbones.layers.graph import NodeHistory
from tsjt_basicts.data.tasks import PAPER_CITIES
from tsjt_basicts.npm import NodePromptedConfig, NodePromptedModel, NPMConfig
from tsjt_basicts.runner import frozen_norm_statistics, take_gradients
from tsjt_basicts.tsb import GradientCombiner

GRAPHS = os.environ.get("TSJT_GRAPHS", "/work/shared/datasets/graphs")
INPUT_LEN, OUTPUT_LEN, CHANNELS = 12, 6, 3  # the strict protocol's windows: value, time of day, day of week
Batch = dict  # {"inputs": [B, 12, N, 3], "targets": [B, 6, N], "targets_mask": [B, 6, N], "graph": CityGraph}


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (argparse turns the ValueError into one usage line)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def source_windows(text: str) -> int:
    """An argparse type: the source windows of a step, at least one for each of the three sources."""
    value = int(text)
    if value < 3:
        raise argparse.ArgumentTypeError(f"{text}: the three sources need at least one window each")
    return value


def node_counts(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers >= 2, e.g. '207,325,524,627'."""
    counts = [int(part) for part in text.split(",")]
    if min(counts) < 2:
        raise ValueError(text)
    return counts


def add_device_option(parser) -> None:
    """--device cpu|cuda and --threads, as every benchmark here takes them."""
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")


def setup_device(name: str, threads: int) -> torch.device:
    """The device to run on; exits with one line when CUDA is asked for and absent."""
    torch.set_num_threads(threads)
    if name == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA GPU is visible here; run with --device cpu")
    return torch.device(name)


def machine_line(device: torch.device, threads: int) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return (f"CPU, {threads} threads, torch {torch.__version__}, "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def random_history(nodes: int, interval_minutes: int, rng: np.random.Generator, days: int = 3) -> NodeHistory:
    """A training range of random daily profiles plus noise (the backbones that learn their graph
    from data need one; the paper's target trains on 3 days)."""
    steps_per_day = 24 * 60 // interval_minutes
    profiles = rng.random((1, steps_per_day, nodes))
    values = (profiles + 0.1 * rng.standard_normal((days, steps_per_day, nodes))).reshape(-1, nodes)
    return NodeHistory(values, steps_per_day, first_slot=0)


def city_graph(city: str, nodes: int | None = None, seed: int = 0) -> tuple[CityGraph, str]:
    """The paper city's graph from the shared graphs (or a random one of its size, ~8 edges a node),
    with a random training history; with ``nodes`` not the city's own count, a random graph."""
    spec = PAPER_CITIES[city]
    nodes = nodes or spec.num_nodes
    rng = np.random.default_rng(seed)
    history = random_history(nodes, spec.interval_minutes, rng)
    path = os.path.join(GRAPHS, spec.folder, "matrix.npy")
    if nodes == spec.num_nodes and os.path.exists(path):
        return CityGraph(np.load(path).astype(np.float32), city, history=history), path
    adjacency = np.eye(nodes, dtype=np.float32)
    rows, cols = rng.integers(0, nodes, 8 * nodes), rng.integers(0, nodes, 8 * nodes)
    adjacency[rows, cols] = rng.random(len(rows))
    return CityGraph(adjacency, f"random-{nodes}", history=history), f"random graph ({nodes} nodes)"


def random_batch(graph: CityGraph, size: int, device: torch.device, seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    n = graph.num_nodes
    return {"inputs": torch.randn(size, INPUT_LEN, n, CHANNELS, generator=generator).to(device),
            "targets": torch.randn(size, OUTPUT_LEN, n, generator=generator).to(device),
            "targets_mask": torch.ones(size, OUTPUT_LEN, n, device=device), "graph": graph}


def build_model(backbone: str, target_nodes: int, npm: bool, device: torch.device,
                widths: dict | None = None) -> NodePromptedModel:
    """TSJT's model (NPM with K = N/2 and A_K's support) or, ``npm=False``, the bare backbone."""
    torch.manual_seed(0)
    prompts = NPMConfig(num_prompts=max(1, target_nodes // 2)) if npm else None
    config = NodePromptedConfig(backbone, prompts, npm, input_len=INPUT_LEN, output_len=OUTPUT_LEN,
                                backbone_config=widths or {})
    return NodePromptedModel(config).to(device).train()


def batch_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return masked_mae(model(batch["inputs"], batch["graph"]), batch["targets"], batch["targets_mask"])


def tsjt_step(model: torch.nn.Module, combiner: GradientCombiner, optimizer: torch.optim.Optimizer,
              target: Batch, sources: list[Batch]):
    """What a TSJTRunner step does: target backward, the sources' backward (L_S, the mean over all
    source samples), TSB, one optimizer step. Returns the (device) combination statistics."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    batch_loss(model, target).backward()
    target_grads = take_gradients(trainable)
    total = sum(batch["inputs"].shape[0] for batch in sources)
    with frozen_norm_statistics(model):
        for batch in sources:
            (batch_loss(model, batch) * (batch["inputs"].shape[0] / total)).backward()
    combined, stats = combiner(target_grads, take_gradients(trainable), trainable)
    for param, grad in zip(trainable, combined):
        param.grad = grad
    optimizer.step()
    optimizer.zero_grad()
    return stats


def joint_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, target: Batch, sources: list[Batch],
               source_ratio: float) -> None:
    """Plain joint training on the same batches: one backward of L_T + r * L_S."""
    total = sum(batch["inputs"].shape[0] for batch in sources)
    source_loss = sum(batch_loss(model, batch) * (batch["inputs"].shape[0] / total) for batch in sources)
    (batch_loss(model, target) + source_ratio * source_loss).backward()
    optimizer.step()
    optimizer.zero_grad()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(run: Callable[[], object], device: torch.device, reps: int, block: int = 1) -> list[float]:
    """Seconds per call of ``run``, ``reps`` times over blocks of ``block`` calls (a GPU syncs only at
    a block's ends, so its queue stays full as in training)."""
    times = []
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        for _ in range(block):
            run()
        sync(device)
        times.append((time.perf_counter() - start) / block)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)
