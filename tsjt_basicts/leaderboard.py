"""Table 2 of the TSJT paper from every ``test_metrics.json`` under a folder.

    python -m tsjt_basicts.leaderboard --root checkpoints --out results/leaderboard [--paper]

One table per target city and setting (data kind, protocol, few-shot days and, for synthetic
data, the data seed), so records of different data kinds or protocols never share a table. Rows
are methods (backbone in parentheses), columns MAE and RMSE at horizon steps 1, 3 and 6 (labelled
step x interval in minutes) and on average; a cell is the mean ± sample std over the seeds of one
settings: a method run under several settings (budget, training, widths, data) gets a row per
settings, labelled by what differs, e.g. ``TSJT (GWN) [budget.steps=600]``
(:mod:`tsjt_basicts.leaderboard_runs`). Per column the lowest mean is **bold** and the second
lowest <u>underlined</u>. Writes ``leaderboard.md``, ``leaderboard.csv`` (one row per target x
method x settings), ``leaderboard.png`` (avg MAE ± std) and
``curves_<task>.png`` (each method's training loss, mean over seeds).

Runs of NPM methods carry the prompt diagnostics (:mod:`tsjt_basicts.npm.diagnostics`), every
trained method its compute (optimizer steps and windows of each phase), and every run of a dated
target its avg MAE on weekday and weekend test windows; the Markdown lists their means over seeds
in tables of their own.

When the folder holds the suite's ``wall_times.jsonl``, the Markdown ends with the wall time of
each method and task (seconds per run, mean over the runs logged) and the total.

``--readme README.md --section NAME`` also writes the overview (and the NPM diagnostics and the
error by day type, when there are any) between the markers ``<!-- leaderboard:NAME -->`` and
``<!-- /leaderboard:NAME -->`` of that file, so a README table is regenerated from results, never typed.

``--paper`` adds the average MAE the TSJT paper (Table 2, AAAI 2025; ST-GFSL protocol) reports for
TSJT (GWN) as a separate "paper-reported" row under the real-data tables of its four cities; such
rows are never ranked.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tsjt_basicts.atomic import write_atomically, write_text
from tsjt_basicts.curves import convergence, plot_task_curves, pyplot, save_figure
from tsjt_basicts.errors import ConfigError, OneLineParser, check_output_folder, run_command
from tsjt_basicts.leaderboard_runs import RunKey, Setting, collect, run_key, variant_labels
from tsjt_basicts.npm.diagnostics import DIAGNOSTIC_KEYS
from tsjt_basicts.readme_section import check_readme_section, write_readme_section
from tsjt_basicts.results import RESULT_FILE, WALL_TIMES, read_wall_times

STEPS = ("step1", "step3", "step6", "avg")
COLUMNS = tuple((metric, step) for metric in ("MAE", "RMSE") for step in STEPS)
COMPUTE_KEYS = ("target_steps", "target_samples", "source_steps", "source_samples")
EXTRAS = {  # per-run numbers shown in tables of their own: field -> (title, keys, format)
    "diagnostics": ("NPM diagnostics (target test windows, evaluated checkpoint; mean over seeds)",
                    DIAGNOSTIC_KEYS, "{:.3f}"),
    "compute": ("Compute (optimizer steps and windows per run; source = meta-/pre-training or source passes)",
                COMPUTE_KEYS, "{:,.0f}"),
    "convergence": ("Convergence (training loss, z-scored MAE: its last value and its drop over the run's last "
                    "third, % of the last; mean over seeds)", ("final_loss", "drop_last_third_%"), "{:.3g}"),
    "day_types": ("Avg MAE by day type (test windows whose first forecast step is on a weekday or a weekend day; "
                  "targets of known start date; mean over seeds)", ("weekday_MAE", "weekend_MAE"), "{:.3f}"),
}
PAPER_TSJT_GWN_AVG_MAE = {"METR-LA": 3.38, "PEMS-BAY": 2.07, "Chengdu": 2.30, "Shenzhen": 2.15}
Column = tuple[str, str]


@dataclass
class Row:
    """One method's cells: mean and sample std (NaN for one seed) per column."""

    method: str
    backbone: str
    seeds: tuple[int, ...]
    mean: dict[Column, float]
    std: dict[Column, float] = field(default_factory=dict)
    reported: bool = False  # a number quoted from the paper, not measured here
    extras: dict[str, dict[str, float]] = field(default_factory=dict)  # "diagnostics", "compute": means
    variant: str = ""  # what tells this row's settings from the method's other rows ("" if it has one)
    settings_digest: str = ""

    @property
    def label(self) -> str:
        name = self.method if self.backbone == "-" else f"{self.method} ({self.backbone})"
        name = f"{name} [{self.variant}]" if self.variant else name
        return f"{name} [paper-reported]" if self.reported else name


def aggregate(key: RunKey, variant: str, runs: list[dict]) -> Row:
    """Mean and sample std over the seeds of one method under one settings in one setting."""
    _, method, backbone, digest = key
    values = {column: np.array([run["metrics"][column[1]][column[0]] for run in runs]) for column in COLUMNS}
    return Row(
        method, backbone, tuple(sorted(run["seed"] for run in runs)), variant=variant, settings_digest=digest,
        mean={column: float(v.mean()) for column, v in values.items()},
        std={column: float(v.std(ddof=1)) if len(v) > 1 else math.nan for column, v in values.items()},
        extras={name: means_of([derived_extras(run) for run in runs], name) for name in EXTRAS},
    )


def derived_extras(run: dict) -> dict:
    """``run`` plus the extras computed from it: its convergence and its avg MAE per day type."""
    by_day_type = run["metrics"].get("by_day_type") or {}
    return {**run, "convergence": convergence(run.get("train_curve") or []),
            "day_types": {f"{day_type}_MAE": part.get("MAE") for day_type, part in by_day_type.items()}}


def means_of(runs: list[dict], name: str) -> dict[str, float]:
    """Mean over seeds of each number every run reports under ``name`` (e.g. the NPM diagnostics); a
    number some seeds lack (runs scored before it existed) is left out rather than averaged over fewer."""
    values = defaultdict(list)
    for run in runs:
        for key, value in (run.get(name) or {}).items():
            if value is not None:
                values[key].append(value)
    return {key: float(np.mean(found)) for key, found in values.items() if len(found) == len(runs)}


def build_tables(records: list[dict]) -> dict[Setting, list[Row]]:
    """Rows per setting, in setting order (real before synthetic) and method order; a method's runs of
    other settings are rows of their own."""
    groups: dict[RunKey, list[dict]] = defaultdict(list)
    for record in records:
        groups[run_key(record)].append(record)
    variants = variant_labels(groups)
    tables: dict[Setting, list[Row]] = defaultdict(list)
    for key, runs in sorted(groups.items(), key=lambda item: (*item[0][:3], variants[item[0]])):
        tables[key[0]].append(aggregate(key, variants[key], runs))
    return dict(sorted(tables.items()))


def curve_labels(records: list[dict]) -> list[str]:
    """Each record's row label, so that curves of one method under other settings stay apart."""
    keys = [run_key(record) for record in records]
    variants = variant_labels({key: [record] for key, record in zip(keys, records)})
    return [Row(key[1], key[2], (), {}, variant=variants[key]).label for key in keys]


def add_paper_rows(tables: dict[Setting, list[Row]]) -> None:
    """Append the paper's TSJT (GWN) avg MAE below each real-data table of a paper city."""
    for setting, rows in tables.items():
        if setting.data_kind == "real" and setting.target in PAPER_TSJT_GWN_AVG_MAE:
            rows.append(Row("TSJT", "GWN", (), {("MAE", "avg"): PAPER_TSJT_GWN_AVG_MAE[setting.target]}, reported=True))


def ranks(rows: list[Row]) -> dict[tuple[int, Column], int]:
    """1 (best) or 2 (second best) per column among the measured rows; lower is better, ties share a rank."""
    measured = [i for i, row in enumerate(rows) if not row.reported]
    marks: dict[tuple[int, Column], int] = {}
    if len(measured) < 2:
        return marks
    for column in COLUMNS:
        levels = sorted({rows[i].mean[column] for i in measured if math.isfinite(rows[i].mean[column])})
        for i in measured:
            if rows[i].mean[column] in levels[:2]:
                marks[(i, column)] = levels.index(rows[i].mean[column]) + 1
    return marks


def cell(row: Row, column: Column, rank: int | None) -> str:
    if column not in row.mean:
        return "n/a"
    std = row.std.get(column, math.nan)
    text = f"{row.mean[column]:.2f}" if math.isnan(std) else f"{row.mean[column]:.2f} ± {std:.2f}"
    return {1: f"**{text}**", 2: f"<u>{text}</u>"}.get(rank, text)


def render_table(setting: Setting, rows: list[Row]) -> list[str]:
    marks = ranks(rows)
    lines = [
        f"### {setting.target} (task {setting.task}): {setting.section}",
        "",
        "| method | seeds | " + " | ".join(setting.column_label(c) for c in COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for i, row in enumerate(rows):
        cells = [cell(row, column, marks.get((i, column))) for column in COLUMNS]
        lines.append(f"| {row.label} | {len(row.seeds) or '-'} | " + " | ".join(cells) + " |")
    if any(row.reported for row in rows):
        lines += ["", "paper-reported: the TSJT paper's Table 2 (ST-GFSL protocol), for reference; not ranked."]
    return lines + [""]


def column_titles(settings: list[Setting]) -> list[str]:
    """``target (data kind)``; where one target has several settings, the task and what else differs."""
    settings = list(settings)
    titles = []
    for s in settings:
        twins = [t for t in settings if t.target == s.target and t != s]
        if not twins:
            titles.append(f"{s.target} ({s.data_kind})")
        elif all(t.task != s.task for t in twins):
            titles.append(f"{s.target} (task {s.task}, {s.data_kind})")
        else:
            titles.append(f"{s.target} ({s.section})")
    return titles


def render_overview(tables: dict[Setting, list[Row]]) -> list[str]:
    """Avg MAE in one table: a row per method, a column per target city, best / second best marked."""
    cells: dict[str, dict[Setting, str]] = defaultdict(dict)
    most = max(len(row.seeds) for rows in tables.values() for row in rows)
    for setting, rows in tables.items():
        marks = ranks(rows)
        for i, row in enumerate(rows):
            text = cell(row, ("MAE", "avg"), marks.get((i, ("MAE", "avg"))))
            short = not row.reported and len(row.seeds) < most
            cells[row.label][setting] = f"{text} (n={len(row.seeds)})" if short else text
    lines = ["## Overview: avg MAE over the 6 horizons", "",
             "| method | " + " | ".join(column_titles(list(tables))) + " |",
             "|---|" + "---:|" * len(tables)]
    for label, found in sorted(cells.items()):
        lines.append(f"| {label} | " + " | ".join(found.get(setting, "–") for setting in tables) + " |")
    return lines + [""]


def render_extra(tables: dict[Setting, list[Row]], name: str) -> list[str]:
    """The ``EXTRAS[name]`` numbers of every method that reports them, per target (means over seeds)."""
    title, keys, number = EXTRAS[name]
    found = [(setting, row) for setting, rows in tables.items() for row in rows if row.extras.get(name)]
    if not found:
        return []
    title_of = dict(zip(tables, column_titles(list(tables))))
    lines = [f"## {title}", "", "| method | target | " + " | ".join(f"`{key}`" for key in keys) + " |",
             "|---|---|" + "---:|" * len(keys)]
    for setting, row in found:
        values = [number.format(row.extras[name][key]) if key in row.extras[name] else "–" for key in keys]
        lines.append(f"| {row.label} | {title_of[setting]} | " + " | ".join(values) + " |")
    return lines + [""]


def render_wall_times(path: Path, tasks: list[str] | None = None) -> list[str]:
    """Seconds per run of each method x task x device from a suite's ``wall_times.jsonl`` (of ``tasks``
    only, when given), and the total."""
    runs: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for entry in read_wall_times(path):
        if tasks and entry["task"] not in tasks:
            continue
        label = entry["method"] if entry["backbone"] == "-" else f"{entry['method']} ({entry['backbone']})"
        runs[(label, entry["task"], entry["device"])].append(entry["seconds"])
    total = sum(sum(seconds) for seconds in runs.values())
    lines = ["## Wall time", "", f"From `{path}`: {sum(map(len, runs.values()))} runs, {total / 60:.1f} min in all "
             "(runs of parallel suite processes overlap in time).", "",
             "| method | task | device | runs | s per run |", "|---|---|---|---|---|"]
    for (label, task, device), seconds in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {label} | {task} | {device} | {len(seconds)} | {np.mean(seconds):.1f} |")
    return lines + [""]


def render_markdown(tables: dict[Setting, list[Row]], root: str, tasks: list[str] | None = None) -> str:
    lines = [
        "# Leaderboard",
        "",
        f"From the `{RESULT_FILE}` files under `{root}`. Cells: mean ± sample std over seeds (a single seed "
        "shows the mean alone), in the city's units; lower is better; per column **best** and "
        "<u>second best</u> of the measured rows.",
        "",
        *render_overview(tables),
    ]
    for setting, rows in tables.items():
        lines += render_table(setting, rows)
    for name in EXTRAS:
        lines += render_extra(tables, name)
    wall_times = Path(root) / WALL_TIMES
    if wall_times.is_file():
        lines += render_wall_times(wall_times, tasks)
    return "\n".join(lines)


def write_csv(tables: dict[Setting, list[Row]], path: Path) -> None:
    """One row per target x method: the setting, the seeds, and mean / std per column ('' when absent)."""
    keys = ["data_kind", "protocol", "target_days", "data_seed", "task", "target", "interval_minutes"]
    stats = [f"{metric}_{step}_{stat}" for metric, step in COLUMNS for stat in ("mean", "std")]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*keys, "method", "backbone", "settings", "settings_digest", "source", "n_seeds", "seeds",
                         *stats])
        for setting, rows in tables.items():
            for row in rows:
                numbers = [
                    "" if math.isnan(v) else f"{v:.6g}"
                    for column in COLUMNS
                    for v in (row.mean.get(column, math.nan), row.std.get(column, math.nan))
                ]
                writer.writerow([
                    *(getattr(setting, key) for key in keys), row.method, row.backbone, row.variant,
                    row.settings_digest, "paper-reported" if row.reported else "measured", len(row.seeds),
                    ";".join(map(str, row.seeds)), *numbers,
                ])


def plot(tables: dict[Setting, list[Row]], path: Path) -> None:
    """Avg MAE per method and target city (error bars: std over seeds), one panel per setting."""
    plt = pyplot()
    sections: dict[str, list[tuple[Setting, list[Row]]]] = defaultdict(list)
    for setting, rows in tables.items():
        sections[setting.section].append((setting, [row for row in rows if not row.reported]))
    width = max(6.0, 1.8 * max(len(members) for members in sections.values()))
    fig, axes = plt.subplots(len(sections), 1, figsize=(width, 3.4 * len(sections)), squeeze=False)
    for ax, (section, members) in zip(axes[:, 0], sections.items()):
        labels = sorted({row.label for _, rows in members for row in rows})
        bar = 0.8 / len(labels)
        for j, label in enumerate(labels):
            found = [(i, row) for i, (_, rows) in enumerate(members) for row in rows if row.label == label]
            ax.bar(
                [i - 0.4 + (j + 0.5) * bar for i, _ in found], [row.mean[("MAE", "avg")] for _, row in found], bar,
                yerr=[np.nan_to_num(row.std[("MAE", "avg")]) for _, row in found], capsize=3, label=label,
            )
        ax.set_xticks(range(len(members)), [setting.target for setting, _ in members])
        ax.set_xlim(-0.5, len(members) - 0.5)
        ax.set_ylabel("avg MAE (city units)")
        ax.set_title(section)
        ax.legend(fontsize="small")
    save_figure(fig, path, dpi=120)


def command_line() -> OneLineParser:
    """The leaderboard's options."""
    cli = OneLineParser(prog="python -m tsjt_basicts.leaderboard", description=__doc__.splitlines()[0])
    cli.add_argument("--root", default="checkpoints", help="folder searched recursively for result files")
    cli.add_argument("--out", default="results/leaderboard", help="folder of leaderboard.md / .csv / .png")
    cli.add_argument("--tasks", nargs="+", default=None, help="only the results of these tasks (e.g. metro la-speed)")
    cli.add_argument("--paper", action="store_true", help="add the paper's reported TSJT (GWN) avg MAE rows")
    cli.add_argument("--readme", default=None, help="also write the overview into this Markdown file")
    cli.add_argument("--section", default="overview", help="name of the --readme markers")
    cli.add_argument("--debug", action="store_true", help="show the traceback of an input error")
    return cli


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return command_line().parse_args(argv)


def write_leaderboard(args: argparse.Namespace) -> dict[str, Path]:
    """Build the leaderboard ``args`` ask for; returns the paths written (``md``, ``csv``, ``png``)."""
    if not Path(args.root).is_dir():
        raise ConfigError(f"--root {args.root!r} is not a folder; give the folder holding the runs (e.g. checkpoints)")
    check_output_folder(args.out, "--out")
    if args.readme:
        check_readme_section(Path(args.readme), args.section)
    records = collect(Path(args.root))
    if not records:
        raise ConfigError(f"no usable {RESULT_FILE} under {args.root}; run some experiments there first, or point "
                          "--root at the folder holding them")
    if args.tasks:
        records = of_tasks(records, args.tasks, args.root)
    tables = build_tables(records)
    if args.paper:
        add_paper_rows(tables)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"leaderboard.{kind}" for kind in ("md", "csv", "png")}
    write_text(paths["md"], render_markdown(tables, args.root, args.tasks))
    write_atomically(paths["csv"], lambda partial: write_csv(tables, partial))
    plot(tables, paths["png"])
    curves = plot_task_curves(records, out, curve_labels(records))
    if args.readme:
        sections = render_overview(tables) + render_extra(tables, "diagnostics") + render_extra(tables, "day_types")
        overview = [line.replace("## ", "#### ", 1) for line in sections]
        write_readme_section(Path(args.readme), args.section, overview)
    print(f"{len(records)} results in {len(tables)} tables -> {', '.join(map(str, [*paths.values(), *curves]))}")
    return paths


def of_tasks(records: list[dict], tasks: list[str], root: str) -> list[dict]:
    """The records of ``tasks``; a task without one is an input mistake (a misspelt name shows nothing)."""
    present = {record["task"] for record in records}
    absent = [task for task in tasks if task not in present]
    if absent:
        raise ConfigError(f"--tasks: no results of {', '.join(absent)} under {root}; its tasks are "
                          f"{', '.join(sorted(present))}")
    return [record for record in records if record["task"] in tasks]


def main(argv: list[str] | None = None) -> int:
    """The command line: exit status 0, or 2 with one ``error:`` line for a bad input or option."""
    return run_command(command_line(), argv, lambda args: write_leaderboard(args) and 0)


if __name__ == "__main__":
    sys.exit(main())
