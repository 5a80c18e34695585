"""Step time and peak memory of every registered backbone, bare and NPM-wrapped, at the paper cities'
node counts; and whether test-time memory grows with the number of test windows (issue #15).

    python benchmarks/bench_memory.py [--device cpu|cuda] [--nodes 207] [--target-batch 4] [--source-batch 4]
    python benchmarks/bench_memory.py --nodes 207,325,524,627 --source-batch 124   # the paper's sizes

Training: one forward + backward + Adam step on target + source windows together on one N-node
graph (an upper bound: a TSJT step's largest pass holds one source city's share, 42 of the 124),
after a warm-up step; its median time and its memory: on a GPU the peak allocated beyond the model and optimizer
(torch.cuda.max_memory_allocated); on a CPU the bytes of the tensors autograd saved for backward
(the activations, counted once per storage) and the growth of the process's peak RSS (VmHWM, reset
through /proc/self/clear_refs; allocator caching makes it a lower bound). Evaluation: the runner's
streamed test pass (batches of --eval-batch windows, no grad, each scored into a MetricAccumulator
and dropped) over --eval-windows and 4x as many windows; its peak must not grow.
"""
from __future__ import annotations

import argparse

import torch

from paper_scale import (add_device_option, batch_loss, build_model, city_graph, machine_line, median,
                         node_counts, positive_int, random_batch, seconds_per_call, setup_device, sync)
from tsjt_basicts.backbones import CityGraph, list_backbones
from tsjt_basicts.data.tasks import PAPER_CITIES
from tsjt_basicts.metrics import MetricAccumulator

MiB = 2**20


def graph_of(nodes: int) -> CityGraph:
    """The paper city with ``nodes`` nodes (its real graph), else a random graph of that size."""
    city = next((name for name, c in PAPER_CITIES.items() if c.num_nodes == nodes), "METR-LA")
    return city_graph(city, nodes)[0]


class SavedForBackward:
    """Counts the bytes of the tensors autograd saves while active (each storage once)."""

    def __init__(self):
        self.storages: dict[object, int] = {}

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.layout == torch.strided:
            storage = tensor.untyped_storage()
            self.storages[storage.data_ptr()] = storage.nbytes()
        else:  # a sparse CSR graph operator
            parts = (tensor.crow_indices(), tensor.col_indices(), tensor.values())
            self.storages[id(tensor)] = sum(p.numel() * p.element_size() for p in parts)
        return tensor

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda tensor: tensor)

    @property
    def bytes(self) -> int:
        return sum(self.storages.values())


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


class PeakMemory:
    """Peak memory of a block beyond what was in use when it started: CUDA allocated bytes, or the
    process's peak RSS (None where /proc/self/clear_refs cannot reset it)."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self):
        sync(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            try:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")  # resets VmHWM to the current RSS
                self.start = _status_kib("VmRSS") * 1024
            except OSError:
                self.start = None
        return self

    def __exit__(self, *exc):
        sync(self.device)
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.start
        else:
            self.peak = None if self.start is None else _status_kib("VmHWM") * 1024 - self.start


def fmt(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MiB:8.1f}"


def training_row(backbone: str, npm: bool, graph: CityGraph, batch: int, device: torch.device, reps: int) -> str:
    model = build_model(backbone, graph.num_nodes, npm, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    data = random_batch(graph, batch, device)

    def step():
        batch_loss(model, data).backward()
        optimizer.step()
        optimizer.zero_grad()

    seconds_per_call(step, device, 1)  # warm-up: Adam state, operator caches
    saved = SavedForBackward()
    with PeakMemory(device) as peak:
        with saved.hooks():
            loss = batch_loss(model, data)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    seconds = median(seconds_per_call(step, device, reps))
    label = f"{backbone}{' + NPM' if npm else ''}"
    return f"  {label:<14} {graph.num_nodes:>5} {seconds:9.3f} {fmt(saved.bytes)} {fmt(peak.peak)}"


@torch.no_grad()
def evaluation_peak(model: torch.nn.Module, graph: CityGraph, windows: int, batch: int, device: torch.device):
    """Peak memory of the streamed test pass over ``windows`` windows."""
    model.eval()
    metrics = MetricAccumulator(horizon=6)
    with PeakMemory(device) as peak:
        for start in range(0, windows, batch):
            data = random_batch(graph, min(batch, windows - start), device, seed=start)
            metrics.update(model(data["inputs"], graph), data["targets"], data["targets_mask"])
    assert metrics.scored == windows * 6 * graph.num_nodes  # every window was scored
    return peak.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_option(parser)
    parser.add_argument("--nodes", type=node_counts, default=[207], help="comma-separated (paper: 207,325,524,627)")
    parser.add_argument("--models", default=",".join(list_backbones()))
    parser.add_argument("--target-batch", type=positive_int, default=4)
    parser.add_argument("--source-batch", type=positive_int, default=4, help="paper: 124")
    parser.add_argument("--reps", type=positive_int, default=1)
    parser.add_argument("--eval-windows", type=positive_int, default=64)
    parser.add_argument("--eval-batch", type=positive_int, default=16)
    args = parser.parse_args()
    unknown = set(args.models.split(",")) - set(list_backbones())
    if unknown:
        parser.error(f"--models: unknown {', '.join(sorted(unknown))}; registered: {', '.join(list_backbones())}")
    device = setup_device(args.device, args.threads)
    batch = args.target_batch + args.source_batch
    memory = "peak allocated MiB" if device.type == "cuda" else "saved-for-backward MiB, peak RSS growth MiB"
    print(f"Training step (forward, backward, Adam) on {args.target_batch} + {args.source_batch} windows, "
          f"{machine_line(device, args.threads)}; median s of {args.reps}, {memory}")
    print(f"  {'model':<14} {'N':>5} {'seconds':>9} {'saved':>8} {'peak':>8}")
    for nodes in args.nodes:
        graph = graph_of(nodes)
        for backbone in args.models.split(","):
            for npm in (False, True):
                print(training_row(backbone, npm, graph, batch, device, args.reps), flush=True)
    print(f"Streamed evaluation (GWN + NPM, batches of {args.eval_batch}): peak MiB over 1x and 4x the windows")
    for nodes in args.nodes:
        graph = graph_of(nodes)
        model = build_model("GWN", nodes, True, device)
        evaluation_peak(model, graph, args.eval_windows, args.eval_batch, device)  # warm-up: allocator caches
        once = evaluation_peak(model, graph, args.eval_windows, args.eval_batch, device)
        four = evaluation_peak(model, graph, 4 * args.eval_windows, args.eval_batch, device)
        print(f"  N={nodes:>4}: {args.eval_windows:>6} windows {fmt(once)}   {4 * args.eval_windows:>6} windows "
              f"{fmt(four)}", flush=True)


if __name__ == "__main__":
    main()
