"""Projected wall time of one paper-budget TSJT(GWN) run on each paper task (issue #15).

    python benchmarks/bench_projection.py [--device cpu|cuda] [--tasks Shenzhen,...] [--source-batch 12]

Per task (the target city, the other three as sources) it measures TSJTRunner's step on the
NPM-wrapped GWN at its paper widths with 4 target windows and ``--source-batch`` source windows,
and scales it to the paper's 4 + 124 by the node-windows a step processes (sum of windows x nodes;
the fixed per-step overhead is scaled too, so the projection errs long); ``--source-batch 124``
measures the paper's step itself (a GPU). It times the no-grad forward of one evaluation batch at
the target's size, per window. The run: BUDGETS["paper"] steps, and per epoch the validation pass and the NPM
diagnostics over the validation windows, then the test pass and its diagnostics over the test windows
(Table 1's lengths, the strict split). One run with a fixed source ratio (TSJT-paper); TSJT's
source-ratio grid (tsjt_basicts.grid) trains one run per candidate.
"""
from __future__ import annotations

import argparse

import torch

from paper_scale import (add_device_option, build_model, city_graph, machine_line, median, positive_int,
                         random_batch, seconds_per_call, setup_device, source_windows, tsjt_step)
from tsjt_basicts.config import BUDGETS
from tsjt_basicts.data.split import VAL_DAYS, Protocol
from tsjt_basicts.data.tasks import PAPER_CITIES
from tsjt_basicts.data.windows import allocate_source_batch
from tsjt_basicts.grid import SOURCE_RATIO_GRID
from tsjt_basicts.tsb import GAMMA1, GAMMA2, build_combiner

PAPER_TARGET_BATCH, PAPER_SOURCE_BATCH = BUDGETS["paper"].target_batch, BUDGETS["paper"].source_batch


def source_counts(target_city: str, source_batch: int) -> dict[str, int]:
    """Windows per source city of a step (uniform allocation, as the paper's tasks)."""
    sources = [city for city in PAPER_CITIES if city != target_city]
    return dict(zip(sources, allocate_source_batch(source_batch, [1] * len(sources), "uniform")))


def node_windows(target_city: str, source_batch: int) -> int:
    """Windows x nodes one step processes: what its time grows with."""
    counts = source_counts(target_city, source_batch)
    return PAPER_TARGET_BATCH * PAPER_CITIES[target_city].num_nodes + sum(
        count * PAPER_CITIES[city].num_nodes for city, count in counts.items())


def step_seconds(target_city: str, source_batch: int, device: torch.device, reps: int) -> float:
    """Median seconds of a TSJT step with ``source_batch`` windows spread over the three sources."""
    target_graph = city_graph(target_city)[0]
    sources, counts = zip(*source_counts(target_city, source_batch).items())
    source_batches = [random_batch(city_graph(city)[0], count, device, seed=i + 1)
                      for i, (city, count) in enumerate(zip(sources, counts))]
    target = random_batch(target_graph, PAPER_TARGET_BATCH, device)
    model = build_model("GWN", target_graph.num_nodes, npm=True, device=device)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    combiner = build_combiner("tsb", named, GAMMA2 / GAMMA1)
    optimizer = torch.optim.Adam([p for _, p in named], lr=GAMMA1)
    run = lambda: tsjt_step(model, combiner, optimizer, target, source_batches)  # noqa: E731
    seconds_per_call(run, device, 1)  # warm-up
    return median(seconds_per_call(run, device, reps))


@torch.no_grad()
def eval_seconds_per_window(target_city: str, device: torch.device, batch: int) -> float:
    graph = city_graph(target_city)[0]
    model = build_model("GWN", graph.num_nodes, npm=True, device=device).eval()
    data = random_batch(graph, batch, device)
    run = lambda: model(data["inputs"], graph)  # noqa: E731
    seconds_per_call(run, device, 1)
    return median(seconds_per_call(run, device, 2)) / batch


def evaluated_windows(city: str) -> tuple[int, int]:
    """Validation windows (per epoch) and test windows of the strict split of the city's full series."""
    spec, protocol = PAPER_CITIES[city], Protocol()
    steps_per_day = 24 * 60 // spec.interval_minutes
    val = int(VAL_DAYS * steps_per_day) - protocol.window_len + 1
    test = int(protocol.test_fraction * spec.num_steps) - protocol.window_len + 1
    return val, test


def hours(seconds: float) -> str:
    return f"{seconds / 3600:7.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_option(parser)
    parser.add_argument("--tasks", default=",".join(PAPER_CITIES), help="target cities")
    parser.add_argument("--source-batch", type=source_windows, default=12, help="measured; 124: the paper's step itself")
    parser.add_argument("--reps", type=positive_int, default=1)
    parser.add_argument("--eval-batch", type=positive_int, default=16, help="windows of the timed evaluation batch")
    args = parser.parse_args()
    unknown = set(args.tasks.split(",")) - set(PAPER_CITIES)
    if unknown:
        parser.error(f"--tasks: unknown {', '.join(sorted(unknown))}; use some of {', '.join(PAPER_CITIES)}")
    device = setup_device(args.device, args.threads)
    budget = BUDGETS["paper"]
    print(f"Projected paper-budget TSJT(GWN) run: {budget.steps} steps of {PAPER_TARGET_BATCH} + {PAPER_SOURCE_BATCH}, "
          f"{budget.num_epochs} validations; {machine_line(device, args.threads)}")
    print(f"  step measured at {PAPER_TARGET_BATCH} + {args.source_batch} windows, scaled by node-windows; "
          f"a TSJT grid search trains {len(SOURCE_RATIO_GRID)} such runs")
    print(f"  {'target':<9} {'measured':>8} {'x scale':>7} {'s/step':>8} {'training':>9} {'eval':>9} {'total':>9}"
          "   val windows x epochs, test windows")
    for city in args.tasks.split(","):
        measured = step_seconds(city, args.source_batch, device, args.reps)
        scale = node_windows(city, PAPER_SOURCE_BATCH) / node_windows(city, args.source_batch)
        step = measured * scale
        val, test = evaluated_windows(city)
        evaluation = eval_seconds_per_window(city, device, args.eval_batch) * 2 * (budget.num_epochs * val + test)
        training = step * budget.steps
        print(f"  {city:<9} {measured:8.3f} {scale:7.2f} {step:8.3f} {hours(training)} {hours(evaluation)} "
              f"{hours(training + evaluation)}   "
              f"{val} x {budget.num_epochs}, {test}", flush=True)


if __name__ == "__main__":
    main()
