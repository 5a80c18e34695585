"""Fig. 5 of the paper: the target's error against the number of source cities it learns from.

:func:`source_subsets` turns a task into one task per non-empty subset of its sources (named
``<task>-from-<a>+<b>``; a registered task's whole set keeps its name, so its runs are Table 2's): every
subset of each size up to :data:`SUBSETS_PER_SIZE` of them, beyond that a sample of that many (seeded by the
task's name and the size, so every run of a suite draws the same ones); with the paper's three sources
that is every subset. The
table and figure give, per task (its subsets together; two tasks of one target apart) and method, the
avg MAE at 1, 2, ... sources: mean ± std over seeds and over the subsets of that size.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from itertools import combinations
from math import comb
from pathlib import Path
from random import Random

from tsjt_basicts.analyses import register_analysis
from tsjt_basicts.analyses.common import avg, cell, mean_std, no_results, records_under
from tsjt_basicts.atomic import write_text
from tsjt_basicts.curves import pyplot, save_figure
from tsjt_basicts.data.task_spec import Task
from tsjt_basicts.data.tasks import TASKS

SUBSET = "-from-"
SUBSETS_PER_SIZE = 3  # the paper's Fig. 5 (three sources) has at most 3 subsets of a size; more are sampled
Groups = dict[str, dict[str, dict[int, list[float]]]]  # task -> method -> number of sources -> avg MAEs


def source_subsets(task: Task) -> list[Task]:
    """The task with each non-empty subset of its sources (:func:`subsets_of_size`); a registered task keeps
    its own name for the whole set (so Table 2's runs count), a user's task is named by the subset throughout."""
    sources = task.sources
    sizes = range(1, len(sources) + 1)
    subsets = [subset for size in sizes for subset in subsets_of_size(task.name, sources, size)]
    variants = [replace(task, name=f"{task.name}{SUBSET}{'+'.join(subset)}", sources=subset) for subset in subsets]
    return variants[:-1] + [task] if task.name in TASKS else variants


def subsets_of_size(name: str, sources: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    """Every ``size``-subset of ``sources`` in order, or where there are more than :data:`SUBSETS_PER_SIZE`,
    that many drawn (without listing them all: 30 sources have 10^9 subsets), seeded by ``name`` and size."""
    if comb(len(sources), size) <= SUBSETS_PER_SIZE:
        return list(combinations(sources, size))
    draw, chosen = Random(f"{name}:{size}"), set()
    while len(chosen) < SUBSETS_PER_SIZE:
        chosen.add(tuple(sorted(draw.sample(range(len(sources)), size))))
    return [tuple(sources[i] for i in positions) for positions in sorted(chosen)]


def number_of_sources(task_name: str) -> int | None:
    """How many sources a run's task had: counted in a subset's name, else the named task's (None: unknown)."""
    if SUBSET in task_name:
        return len(task_name.rsplit(SUBSET, 1)[1].split("+"))
    return len(TASKS[task_name].sources) or None if task_name in TASKS else None


def base_task(task_name: str) -> str:
    """The task a run's task is a subset of (its own name when it is no subset)."""
    return task_name.rsplit(SUBSET, 1)[0]


def group(records: list[dict]) -> Groups:
    """The avg MAE of every run by task, method and number of sources; a method run with one number
    of sources only (a Table 2 run of another suite) is left out."""
    groups: Groups = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for record in records:
        count = number_of_sources(record["task"])
        if count is not None:
            method = record["method"] + ("" if record.get("backbone", "-") == "-" else f" ({record['backbone']})")
            groups[f"{base_task(record['task'])} ({record['data_kind']})"][method][count].append(avg(record))
    varied = {task: {m: sizes for m, sizes in methods.items() if len(sizes) > 1} for task, methods in groups.items()}
    return {task: methods for task, methods in varied.items() if methods}


def table(groups: Groups) -> str:
    counts = sorted({n for methods in groups.values() for sizes in methods.values() for n in sizes})
    lines = ["| task | method | " + " | ".join(f"{n} source{'s' * (n > 1)}" for n in counts) + " |",
             "|---|---|" + "---:|" * len(counts)]
    for task, methods in sorted(groups.items()):
        for method, sizes in sorted(methods.items()):
            lines.append(f"| {task} | {method} | " + " | ".join(cell(sizes.get(n, [])) for n in counts) + " |")
    return "\n".join(lines)


def figure(groups: Groups, path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False)
    for ax, (task, methods) in zip(axes[0], sorted(groups.items())):
        for method, sizes in sorted(methods.items()):
            counts = sorted(sizes)
            stats = [mean_std(sizes[n]) for n in counts]
            ax.errorbar(counts, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o", capsize=3, label=method)
        ax.set_xlabel("source cities")
        ax.set_ylabel("avg MAE")
        ax.set_title(task, fontsize="small")
        ax.legend(fontsize="x-small")
    return save_figure(fig, path)


@register_analysis("sources")
def write(root: Path, out: Path) -> list[Path]:
    """``sources.md`` and ``sources.png`` from the runs under ``root``."""
    groups = group(records_under(root))
    if not groups:
        raise no_results("sources", root)
    text = ("# Number of source cities (paper Fig. 5)\n\nAvg MAE over the 6 horizons, mean ± std (n = seeds x "
            f"subsets of that size: every subset, or a seeded sample of {SUBSETS_PER_SIZE} where a size has more), "
            f"in the city's units; from `{root}`.\n\n{table(groups)}\n")
    return [write_text(out / "sources.md", text), figure(groups, out / "sources.png")]
