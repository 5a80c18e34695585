"""Time of a TSJT step over a plain joint step on the same batches (issue #15).

    python benchmarks/bench_tsjt_step.py [--scale small|paper] [--device cpu|cuda] [--reps 3] [--block 1]

The TSJT step is TSJTRunner's: target forward + backward, each source city's forward + backward
(g_S of L_S), the TSB combination, one Adam step. The joint step forwards the same four sub-batches
and takes one backward of L_T + r * L_S. Both run on the NPM-wrapped backbone (paper widths; the
cpu budget's at the small scale), alternating, after one warm-up step each; the median seconds per
step and their ratio are printed, with the TSB combination alone. ``--scale paper``: the target
Shenzhen (627 nodes) with METR-LA, PEMS-BAY and Chengdu (207/325/524) as sources, batch 4 + 124
(slow on a CPU: use --reps 2).
``--scale small``: random graphs of 100 (target), 40/60/80 nodes, batch 4 + 24. On a GPU,
``--block`` steps run between two syncs, as in training.
"""
from __future__ import annotations

import argparse

import torch

from paper_scale import (add_device_option, build_model, city_graph, joint_step, machine_line, median,
                         positive_int, random_batch, seconds_per_call, setup_device, source_windows, tsjt_step)
from tsjt_basicts.backbones import list_backbones
from tsjt_basicts.config import backbone_widths
from tsjt_basicts.data.windows import allocate_source_batch
from tsjt_basicts.tsb import GAMMA1, GAMMA2, build_combiner

SCALES = {  # target graph, source graphs (city, nodes: None = the city's own), target and source batch
    "small": (("Shenzhen", 100), (("METR-LA", 40), ("PEMS-BAY", 60), ("Chengdu", 80)), 4, 24),
    "paper": (("Shenzhen", None), (("METR-LA", None), ("PEMS-BAY", None), ("Chengdu", None)), 4, 124),
}
WIDTHS = {"small": "cpu", "paper": "paper"}  # the backbone widths of that budget (tsjt_basicts.config)


def make_batches(scale: str, device: torch.device, target_batch: int | None, source_batch: int | None):
    (target_city, target_nodes), sources, default_target, default_source = SCALES[scale]
    target_graph, origin = city_graph(target_city, target_nodes)
    print(f"  target {target_city}: {target_graph.num_nodes} nodes ({origin})")
    source_graphs = []
    for city, nodes in sources:
        graph, origin = city_graph(city, nodes)
        source_graphs.append(graph)
        print(f"  source {city}: {graph.num_nodes} nodes ({origin})")
    counts = allocate_source_batch(source_batch or default_source, [1] * len(sources), "uniform")
    target = random_batch(target_graph, target_batch or default_target, device)
    return target, [random_batch(g, c, device, seed=i + 1) for i, (g, c) in enumerate(zip(source_graphs, counts))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_option(parser)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--backbone", default="GWN")
    parser.add_argument("--reps", type=positive_int, default=3)
    parser.add_argument("--block", type=positive_int, default=1, help="steps between syncs (GPU)")
    parser.add_argument("--target-batch", type=positive_int)
    parser.add_argument("--source-batch", type=source_windows)
    parser.add_argument("--combiner", choices=["tsb", "sum"], default="tsb")
    args = parser.parse_args()
    if args.backbone not in list_backbones():
        parser.error(f"--backbone {args.backbone}: not registered; use one of {', '.join(list_backbones())}")
    device = setup_device(args.device, args.threads)
    print(f"TSJT step / joint step, {args.backbone} + NPM, {args.scale} scale, {machine_line(device, args.threads)}")
    target, sources = make_batches(args.scale, device, args.target_batch, args.source_batch)
    print(f"  batch {target['inputs'].shape[0]} + {[b['inputs'].shape[0] for b in sources]}")
    widths = backbone_widths(args.backbone, WIDTHS[args.scale])
    model = build_model(args.backbone, target["graph"].num_nodes, npm=True, device=device, widths=widths)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    ratio = GAMMA2 / GAMMA1
    combiner = build_combiner(args.combiner, named, ratio)
    optimizer = torch.optim.Adam([p for _, p in named], lr=GAMMA1)
    step_tsjt = lambda: tsjt_step(model, combiner, optimizer, target, sources)  # noqa: E731
    step_joint = lambda: joint_step(model, optimizer, target, sources, ratio)  # noqa: E731
    grads = [torch.randn_like(p) for _, p in named]
    combine = lambda: combiner(grads, grads, [p for _, p in named])  # noqa: E731
    for run in (step_tsjt, step_joint, combine):  # warm-up: allocator, operator caches, Adam state
        seconds_per_call(run, device, 1)
    tsjt, joint = [], []
    for _ in range(args.reps):  # alternating, so a change of machine load touches both alike
        tsjt += seconds_per_call(step_tsjt, device, 1, args.block)
        joint += seconds_per_call(step_joint, device, 1, args.block)
    combination = median(seconds_per_call(combine, device, 5))
    print(f"  {sum(p.numel() for _, p in named):,} parameters in {len(named)} tensors")
    print(f"  TSJT step  {median(tsjt):9.4f} s   (runs: {', '.join(f'{t:.3f}' for t in tsjt)})")
    print(f"  joint step {median(joint):9.4f} s   (runs: {', '.join(f'{t:.3f}' for t in joint)})")
    print(f"  TSB combination alone {combination * 1e3:.2f} ms")
    print(f"  ratio TSJT / joint: {median(tsjt) / median(joint):.3f}")


if __name__ == "__main__":
    main()
