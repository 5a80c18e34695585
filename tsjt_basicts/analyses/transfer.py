"""The source-ratio sweep: what each weight on the sources gives the target, on weekdays and weekends.

For every task under the root where a ``TSJT`` source-ratio grid ran (the transfer benchmark's
tasks, and any other), one table: each ratio of the grid (0: the NPM model trained on the target
alone; the paper's 0.005: TSJT-paper's run, which the grid reuses), the grid's choice, ``Joint``
(gradients summed at ratio 1) and ``TargetOnly``, with the validation MAE that chooses the ratio,
the test MAE, and the test MAE on windows forecasting a weekday and a weekend day (targets of
known start date, ``metrics.by_day_type``); mean ± std over seeds. Below it the ratio each seed's
grid chose. The figure plots the test MAE against the ratio, one panel per task.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

from tsjt_basicts.analyses import register_analysis
from tsjt_basicts.analyses.common import cell, mean_std, no_results
from tsjt_basicts.atomic import write_text
from tsjt_basicts.curves import pyplot, save_figure
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.config import PAPER_RATIO
from tsjt_basicts.grid import SOURCE_RATIO_GRID, fixed_ratio_twin
from tsjt_basicts.leaderboard_runs import Setting
from tsjt_basicts.results import RESULT_FILE, usable_results

GRID_METHOD = "TSJT"
REFERENCES = ("Joint", "TargetOnly")
CHOICE = "TSJT (grid's choice)"
COLUMNS = ("validation", "test", "test, weekdays", "test, weekends")
Sweep = dict[tuple[Setting, str, str], dict[str, list[dict]]]  # (setting, backbone, budget) -> row -> records


def ratio_label(ratio: float) -> str:
    """The row of the grid's run at ``ratio`` (the paper's 0.004999... shows as 0.005)."""
    return f"TSJT at ratio {ratio:g}"


def row_label(record: dict) -> str | None:
    """The sweep row of ``record``: a grid ratio, the grid's choice, a reference method, or None."""
    if "source_ratio_grid" in record:
        return CHOICE
    ratio = (record.get("training") or {}).get("source_ratio")
    if record.get("grid_candidate") or (ratio is not None and fixed_ratio_twin(GRID_METHOD, ratio) == record["method"]):
        return ratio_label(ratio)
    return record["method"] if record["method"] in REFERENCES else None


def sweep(root: Path) -> Sweep:
    """Every sweep record under ``root``, by setting (task, protocol, data), backbone and budget; the
    newest file of a run counts once; only groups where a grid's choice was written."""
    if not root.is_dir():
        raise ConfigError(f"--root {root} is not a folder of results; give the suite's --out-root")
    newest: dict[tuple, dict] = {}
    for _, record in usable_results(sorted(root.rglob(RESULT_FILE), key=lambda p: p.stat().st_mtime)):
        label = row_label(record)
        if label is not None:
            budget = json.dumps(record.get("budget"), sort_keys=True)
            newest[(Setting.of(record), record.get("backbone", "-"), budget, label, record["seed"])] = record
    found: Sweep = defaultdict(lambda: defaultdict(list))
    for (*group, label, _), record in newest.items():
        found[tuple(group)][label].append(record)
    return {group: dict(rows) for group, rows in sorted(found.items(), key=lambda item: str(item[0]))
            if CHOICE in rows}


def column_mae(record: dict, column: str) -> float:
    """The record's MAE in ``column`` of :data:`COLUMNS` (NaN where it has none)."""
    metrics = record["metrics"]
    if column == "validation":
        value = (record.get("selection") or {}).get("val_MAE")
    elif column == "test":
        value = metrics["avg"]["MAE"]
    else:
        day_type = "weekday" if column.endswith("weekdays") else "weekend"
        value = ((metrics.get("by_day_type") or {}).get(day_type) or {}).get("MAE")
    return math.nan if value is None else float(value)


def finite_maes(records: list[dict], column: str) -> list[float]:
    """The column's MAE of each record that has one."""
    return [mae for mae in (column_mae(record, column) for record in records) if math.isfinite(mae)]


def ordered(rows: dict[str, list[dict]]) -> list[str]:
    """Grid ratios in ascending order, then the grid's choice and the references."""
    ratios = [ratio_label(ratio) for ratio in SOURCE_RATIO_GRID]
    return [label for label in (*ratios, CHOICE, *REFERENCES) if label in rows]


def table(setting: Setting, backbone: str, rows: dict[str, list[dict]]) -> str:
    """One group's Markdown table (cells: mean ± std (seeds that have the value)) and the grid's choices."""
    lines = [f"### {setting.task} ({backbone}; {setting.section})", "",
             "| run | " + " | ".join(f"{c} MAE" for c in COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for label in ordered(rows):
        cells = [cell(maes, 3) if (maes := finite_maes(rows[label], c)) else "–" for c in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    choices = sorted((r["seed"], r["source_ratio_grid"]["chosen"]) for r in rows[CHOICE])
    lines += ["", "Chosen ratio per seed: " + ", ".join(f"seed {seed}: {ratio:g}" for seed, ratio in choices), ""]
    return "\n".join(lines)


def figure(found: Sweep, path: Path) -> Path:
    """Test MAE against the source ratio (symmetric log axis), all windows and per day type; the
    references as horizontal lines."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(found), figsize=(4.2 * len(found), 3.4), squeeze=False)
    for ax, ((setting, backbone, _), rows) in zip(axes[0], found.items()):
        ratios = [r for r in SOURCE_RATIO_GRID if ratio_label(r) in rows]
        for column, style in zip(COLUMNS[1:], ("-o", "--s", ":^")):
            means = [mean_std(finite_maes(rows[ratio_label(r)], column))[0] for r in ratios]
            if any(map(math.isfinite, means)):
                ax.plot(ratios, means, style, label=f"TSJT, {column}")
        for reference, color in zip(REFERENCES, ("tab:gray", "tab:red")):
            if reference in rows:
                mean = mean_std(finite_maes(rows[reference], "test"))[0]
                ax.axhline(mean, color=color, lw=0.8, label=f"{reference}, test")
        ax.set_xscale("symlog", linthresh=PAPER_RATIO)
        ax.set_xlabel("source ratio gamma2 / gamma1")
        ax.set_ylabel("avg MAE")
        ax.set_title(f"{setting.task} ({backbone})", fontsize="small")
    axes[0][0].legend(fontsize="x-small")
    return save_figure(fig, path)


@register_analysis("transfer")
def write(root: Path, out: Path) -> list[Path]:
    """``transfer.md`` and ``transfer.png``: the source-ratio sweep of every task under ``root`` with a grid."""
    found = sweep(root)
    if not found:
        raise no_results("transfer", root)
    text = ("# Source-ratio sweep\n\nAvg MAE over the 6 horizons, mean ± std (seeds), in the city's units; from "
            f"`{root}`. Validation: the last few-shot half-day that chooses the grid's ratio. Weekdays / weekends: "
            "test windows whose first forecast step falls on one (targets of known start date).\n\n"
            + "\n".join(table(setting, backbone, rows) for (setting, backbone, _), rows in found.items()))
    return [write_text(out / "transfer.md", text), figure(found, out / "transfer.png")]
