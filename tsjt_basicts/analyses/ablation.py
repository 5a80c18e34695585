"""Fig. 3 of the paper: what each of TSJT's components brings, per task and backbone.

Variants, all at the paper's source ratio: ``TSJT-paper`` (the whole method), ``TSJT-noNPM``
(w/o NPM), ``TSJT-noAK`` (w/o A_K), ``TSJT-noTSB`` (w/o TSB as the paper defines it: the NPM model
trained with Reptile) and ``TSJT-sum`` (TSB's projection left out: gradients summed at the same
ratio). The table and the bar chart give the avg MAE, mean ± std over seeds, per task (runs of two
tasks with one target, e.g. the transfer tasks, are not pooled) and backbone; runs with a prompt bank
other than the default K (half the target's nodes: the bank-size suite's) are left out, and so is a
task and backbone with a single variant measured (e.g. another suite's ``TSJT-paper`` runs).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from tsjt_basicts.analyses import register_analysis
from tsjt_basicts.analyses.common import avg, cell, mean_std, no_results, records_under
from tsjt_basicts.atomic import write_text
from tsjt_basicts.curves import pyplot, save_figure
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.npm.settings import default_num_prompts

VARIANTS = {
    "TSJT-paper": "TSJT",
    "TSJT-noNPM": "w/o NPM",
    "TSJT-noAK": "w/o A_K",
    "TSJT-noTSB": "w/o TSB (Reptile)",
    "TSJT-sum": "summed gradients",
}
PANELS_PER_ROW = 4
Groups = dict[str, dict[str, dict[str, list[float]]]]  # task -> backbone -> variant -> avg MAEs


def default_bank(record: dict) -> bool:
    """Whether the run's prompt bank has the default K = half the target's nodes (or no bank; records
    written before ``num_nodes`` was recorded count as default)."""
    k, nodes = record.get("num_prompts"), record.get("num_nodes")
    return k is None or nodes is None or k == default_num_prompts(nodes)


def group(records: list[dict]) -> Groups:
    """The avg MAE of every ablation run, by task (with its data kind), backbone and variant."""
    groups: Groups = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for record in records:
        if record["method"] in VARIANTS and default_bank(record):
            task = f"{record['task']} ({record['data_kind']})"
            groups[task][record.get("backbone", "-")][record["method"]].append(avg(record))
    return groups


def comparable(groups: Groups) -> Groups:
    """Only the tasks and backbones with two or more variants measured: one bar compares nothing."""
    kept = {task: {b: v for b, v in backbones.items() if len(v) > 1} for task, backbones in groups.items()}
    return {task: backbones for task, backbones in kept.items() if backbones}


def table(groups: Groups) -> str:
    """Markdown: one row per task and backbone, one column per variant."""
    lines = ["| task | backbone | " + " | ".join(VARIANTS.values()) + " |",
             "|---|---|" + "---:|" * len(VARIANTS)]
    for task, backbones in sorted(groups.items()):
        for backbone, variants in sorted(backbones.items()):
            cells = [cell(variants[v]) if v in variants else "not run" for v in VARIANTS]
            lines.append(f"| {task} | {backbone} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(groups: Groups, path: Path) -> Path:
    """One panel per task (up to four a row): bars of avg MAE per variant, a group per backbone, std as
    error bars."""
    plt = pyplot()
    cols = min(len(groups), PANELS_PER_ROW)
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    width = 0.8 / len(VARIANTS)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for ax, (task, backbones) in zip(axes.flat, sorted(groups.items())):
        names = sorted(backbones)
        for i, (variant, label) in enumerate(VARIANTS.items()):
            stats = [mean_std(backbones[b].get(variant, [])) for b in names]
            ax.bar(np.arange(len(names)) + (i - len(VARIANTS) / 2 + 0.5) * width, [s[0] for s in stats], width,
                   yerr=[s[1] for s in stats], label=label, capsize=2)
        ax.set_xticks(np.arange(len(names)), names)
        ax.set_xlim(-0.5, len(names) - 0.5)  # the same slots whether or not every variant was run
        ax.set_title(task, fontsize="small")
        ax.set_ylabel("avg MAE")
    axes[0][0].legend(fontsize="x-small")
    return save_figure(fig, path)


@register_analysis("ablation")
def write(root: Path, out: Path) -> list[Path]:
    """``ablation.md`` and ``ablation.png`` from the ablation runs under ``root``."""
    measured = group(records_under(root))
    if not measured:
        raise no_results("ablation", root)
    groups = comparable(measured)
    if not groups:
        raise ConfigError(f"only one ablation variant per task has results under {root}; run python run.py "
                          "--suite ablation for the others (w/o NPM, w/o A_K, w/o TSB, summed)")
    text = ("# Ablation (paper Fig. 3)\n\nAvg MAE over the 6 horizons, mean ± std (seeds), in the city's units; "
            f"from `{root}`.\n\n{table(groups)}\n")
    return [write_text(out / "ablation.md", text), figure(groups, out / "ablation.png")]
