"""Fig. 4 of the paper: TSJT's error and cost against the size K of the prompt bank.

The paper chose K (half the nodes) for cost, so besides the avg MAE / RMSE of the runs (mean ± std
over seeds) the analysis measures, on the machine that draws the figure, one training step of the
run's model for each K: the wall time of forward + backward on a batch of the budget's target
windows (median of 3), and the bytes of the tensors autograd saves for the backward pass (the
activation memory, which does not depend on the device), with the parameter bytes.
"""
from __future__ import annotations

import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from tsjt_basicts.analyses import register_analysis
from tsjt_basicts.analyses.common import avg, cell, mean_std, no_results, records_under
from tsjt_basicts.atomic import write_text
from tsjt_basicts.curves import pyplot, save_figure
from tsjt_basicts.data.split import Protocol, split_target
from tsjt_basicts.data.windows import city_windows
from tsjt_basicts.metrics import masked_mae_loss

Runs = dict[str, dict[int, list[dict]]]  # task -> K -> records of TSJT-paper runs


def group(records: list[dict]) -> Runs:
    runs: Runs = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record["method"] == "TSJT-paper" and record.get("num_prompts"):
            runs[record["task"]][int(record["num_prompts"])].append(record)
    return {task: by_k for task, by_k in runs.items() if len(by_k) > 1}


def step_cost(record: dict, repeats: int = 3) -> tuple[float, float]:
    """(milliseconds, MB saved for backward + parameters) of one training step of ``record``'s model."""
    from tsjt_basicts.config import METHODS, model_config
    from tsjt_basicts.engine.dataset import as_basicts_batch, cached_task
    from tsjt_basicts.data.tasks import resolve_task
    from tsjt_basicts.npm import NodePromptedModel

    protocol = Protocol(target_days=record["target_days"], val_days=record["val_days"])
    target = cached_task(resolve_task(record["task"]), None, record["data_seed"], protocol).target
    npm_options = {k: v for k, v in record["npm_config"].items() if k not in ("num_prompts", "prompt_dim")}
    config = model_config(METHODS["TSJT-paper"], record["backbone"], target, protocol, record["num_prompts"],
                          record["prompt_dim"], record["backbone_config"], npm_options)
    model = NodePromptedModel(config)
    windows = city_windows(target, split_target(target, protocol), "train", protocol)
    positions = np.arange(min(record["budget"]["target_batch"], len(windows)))
    item = as_basicts_batch(windows.batch(positions), windows, windows.graph)
    saved: list[int] = []

    def step() -> None:
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel() * t.element_size()) or t,
                                                      lambda t: t):
            loss = masked_mae_loss(model(item["inputs"], item["graph"]), item["targets"], item["targets_mask"])
        loss.backward()
        model.zero_grad()

    step()  # warm-up: graph operators and caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(1000 * (time.perf_counter() - started))
    parameters = sum(p.numel() * p.element_size() for p in model.parameters())
    return statistics.median(times), (sum(saved) + parameters) / 2**20


def table(runs: Runs, costs: dict[tuple[str, int], tuple[float, float]]) -> str:
    lines = ["| task | K | avg MAE | avg RMSE | step ms | step MB |", "|---|---:|---:|---:|---:|---:|"]
    for task, by_k in sorted(runs.items()):
        for k, records in sorted(by_k.items()):
            ms, mb = costs[task, k]
            mae, rmse = cell([avg(r) for r in records]), cell([avg(r, "RMSE") for r in records])
            lines.append(f"| {task} | {k} | {mae} | {rmse} | {ms:.0f} | {mb:.1f} |")
    return "\n".join(lines)


def figure(runs: Runs, costs: dict[tuple[str, int], tuple[float, float]], path: Path) -> Path:
    """Per task (a column): MAE, then RMSE against K (error bars: std over seeds), each on its own scale;
    then step time and memory against K."""
    plt = pyplot()
    fig, axes = plt.subplots(3, len(runs), figsize=(4.2 * len(runs), 8.4), squeeze=False, sharex="col")
    for column, (task, by_k) in enumerate(sorted(runs.items())):
        ks = sorted(by_k)
        for row, metric in enumerate(("MAE", "RMSE")):
            stats = [mean_std([avg(r, metric) for r in by_k[k]]) for k in ks]
            axes[row][column].errorbar(ks, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o", capsize=3)
            axes[row][column].set_ylabel(f"avg {metric}")
        axes[0][column].set_title(task, fontsize="small")
        cost = axes[2][column]
        cost.plot(ks, [costs[task, k][0] for k in ks], marker="o", color="tab:green")
        cost.set_ylabel("step ms", color="tab:green")
        memory = cost.twinx()
        memory.plot(ks, [costs[task, k][1] for k in ks], marker="s", color="tab:purple")
        memory.set_ylabel("step MB", color="tab:purple")
        cost.set_xlabel("prompts K")
    return save_figure(fig, path)


@register_analysis("bank-size")
def write(root: Path, out: Path) -> list[Path]:
    """``bank-size.md`` and ``bank-size.png`` from the TSJT runs of several K under ``root``."""
    runs = group(records_under(root))
    if not runs:
        raise no_results("bank-size", root)
    costs = {(task, k): step_cost(records[0]) for task, by_k in runs.items() for k, records in by_k.items()}
    text = ("# Prompt bank size (paper Fig. 4)\n\nAvg MAE / RMSE over the 6 horizons, mean ± std (seeds), in the "
            "city's units; step: one forward + backward of the run's model on a batch of the budget's target "
            f"windows, measured on the machine that drew this (median of 3 ms; MB = tensors saved for backward + "
            f"parameters); from `{root}`.\n\n{table(runs, costs)}\n")
    return [write_text(out / "bank-size.md", text), figure(runs, costs, out / "bank-size.png")]
