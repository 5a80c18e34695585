"""Parameter counts and CPU forward+backward time of the backbones (issue #3).

    python benchmarks/bench_backbones.py [--reps 3] [--threads 2] [--layouts sparse,dense] [--models STGCN,GWN,DCRNN]

Times one training step (forward, MSE, backward) on a batch of 64 windows [64, 12, N, 3] for the
METR-LA graph (207 nodes) and the Shenzhen graph (627 nodes) from /work/shared/datasets/graphs (or
random graphs of the same size and density when absent), after one warm-up step; prints the median.
Every backbone runs as TSJT uses it: with a per-sample learned support [64, N, N] (A_K's).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tsjt_basicts.backbones import CityGraph, build_backbone

GRAPHS = os.environ.get("TSJT_GRAPHS", "/work/shared/datasets/graphs")
CITIES = {"METR-LA": ("metr-la", 207, 1722), "Shenzhen": ("shenzhen", 627, 4845)}  # dir, nodes, edges (if absent)
PAPER_COUNTS = {
    "STGCN": "unknown (not reported in the paper)",
    "GWN": "309,400 on METR-LA (in 2, 12 horizons, incl. 4,140 node-embedding and 15,712 unused weights)",
    "DCRNN": "372,353 on METR-LA (~372k in the paper)",
}


def load_graph(directory: str, nodes: int, edges: int, seed: int = 0) -> tuple[np.ndarray, str]:
    path = os.path.join(GRAPHS, directory, "matrix.npy")
    if os.path.exists(path):
        return np.load(path).astype(np.float32), path
    rng = np.random.default_rng(seed)
    adjacency = np.eye(nodes, dtype=np.float32)
    rows, cols = rng.integers(0, nodes, edges - nodes), rng.integers(0, nodes, edges - nodes)
    adjacency[rows, cols] = rng.random(len(rows))
    return adjacency, f"random graph ({nodes} nodes, ~{edges} edges)"


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_table() -> None:
    print("Parameter counts at default settings (in_channels=3, 12 -> 6 steps)")
    rows = [
        ("STGCN", {}, "STGCN"),
        ("STGCN", {"adaptive_graph": True}, "STGCN + learned support (TSJT)"),
        ("GWN", {}, "GWN, learned graph input (TSJT)"),
        ("GWN", {"num_nodes": 207}, "GWN + node embeddings, 207 nodes"),
        ("GWN", {"num_nodes": 207, "in_channels": 2, "output_len": 12}, "GWN at the original I/O (in 2, 12 steps)"),
        ("DCRNN", {}, "DCRNN"),
        ("DCRNN", {"adaptive_graph": True}, "DCRNN + learned support (TSJT)"),
        ("DCRNN", {"in_channels": 2, "output_len": 12}, "DCRNN at the original I/O (in 2, 12 steps)"),
    ]
    for name, cfg, label in rows:
        print(f"  {label:<44} {count(build_backbone(name, **cfg)):>9,}")
    print("Original papers / code:")
    for name, text in PAPER_COUNTS.items():
        print(f"  {name:<6} {text}")


def time_step(name: str, graph: CityGraph, batch: int, reps: int) -> float:
    torch.manual_seed(0)
    model = build_backbone(name, adaptive_graph=True).train()  # as TSJT builds it: with A_K's support
    n = graph.num_nodes
    history, targets = torch.randn(batch, 12, n, 3), torch.randn(batch, 6, n, 1)
    learned = torch.randn(batch, n, n).softmax(dim=-1).requires_grad_(True)
    times = []
    for rep in range(reps + 1):
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        loss = (model(history, graph, learned) - targets).square().mean()
        loss.backward()
        if rep:  # the first step warms up allocator and operator caches
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--layouts", default="sparse,dense")
    parser.add_argument("--models", default="STGCN,GWN,DCRNN")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parameter_table()
    print(f"\nForward+backward per batch of {args.batch}, CPU, {args.threads} threads, median of {args.reps} "
          f"(torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for city, (directory, nodes, edges) in CITIES.items():
        adjacency, source = load_graph(directory, nodes, edges)
        print(f"  {city}: {adjacency.shape[0]} nodes, {int((adjacency > 0).sum())} edges, from {source}")
        for name in args.models.split(","):
            for layout in args.layouts.split(","):
                seconds = time_step(name, CityGraph(adjacency, city, layout), args.batch, args.reps)
                print(f"    {name:<6} {layout:<6} {seconds:8.3f} s", flush=True)


if __name__ == "__main__":
    main()
