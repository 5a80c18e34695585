"""Training-loss curves: a PNG beside every run's result, one figure per task in the leaderboard.

A run's record holds ``train_curve``: ``[[step, mean training loss since the previous point], ...]``
(the loss is the masked MAE of z-scored target windows, for every trained method), so whether a
budget let a method converge can be read from the result files alone.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tsjt_basicts.atomic import write_atomically

CURVE_PNG = "train_curve.png"


class CurveLog:
    """Mean loss over consecutive blocks of steps, about ``points`` blocks over ``total_steps``.

    ``add`` takes the loss tensor itself and reads it back once per block, not once per step.
    """

    def __init__(self, total_steps: int, points: int = 30):
        self.every = max(1, total_steps // points)
        self.step = 0
        self._sum, self._count = 0.0, 0
        self.points: list[list[float]] = []

    def add(self, loss) -> None:
        self.step += 1
        self._sum, self._count = self._sum + loss.detach(), self._count + 1
        if self._count == self.every:
            self.points.append([self.step, float(self._sum) / self._count])
            self._sum, self._count = 0.0, 0


def convergence(points: list[list[float]]) -> dict[str, float]:
    """How flat a curve ends: its last loss and the drop of the loss over the run's last third, in %
    of the last loss (a few % or less: flattened; a negative drop: the loss rose again)."""
    if len(points) < 3:
        return {}
    last_step, last = points[-1]
    earlier = min(points, key=lambda point: abs(point[0] - 2 * last_step / 3))[1]
    return {"final_loss": last, "drop_last_third_%": 100.0 * (earlier - last) / last if last else float("nan")}


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (figures are files here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Save ``fig`` as the PNG ``path`` atomically (:mod:`tsjt_basicts.atomic`) and close it."""
    fig.tight_layout()
    written = write_atomically(Path(path), lambda partial: fig.savefig(partial, dpi=dpi, format="png"))
    pyplot().close(fig)
    return written


def plot_curve(points: list[list[float]], path: str | Path, title: str) -> None:
    """One run's training loss against optimizer steps."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker=".")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (z-scored MAE)")
    ax.set_title(title, fontsize="small")
    save_figure(fig, path)


def plot_task_curves(records: list[dict], folder: str | Path, labels: list[str]) -> list[Path]:
    """``curves_<task>.png`` per task: the training loss of each label (a method under one settings;
    ``labels[i]`` is ``records[i]``'s), the mean over its seeds at each point."""
    by_task: dict[str, dict[str, list[list[list[float]]]]] = defaultdict(lambda: defaultdict(list))
    for record, label in zip(records, labels):
        if record.get("train_curve"):
            by_task[record["task"]][label].append(record["train_curve"])
    plt, paths = pyplot(), []
    for task, methods in sorted(by_task.items()):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for label, curves in sorted(methods.items()):
            length = min(len(curve) for curve in curves)
            steps = [curves[0][i][0] for i in range(length)]
            ax.plot(steps, [sum(c[i][1] for c in curves) / len(curves) for i in range(length)], label=label)
        ax.set_xlabel("optimizer step (target fine-tuning for the baselines)")
        ax.set_ylabel("training loss (z-scored MAE)")
        ax.set_title(f"{task}: training loss, mean over seeds")
        ax.legend(fontsize="x-small")
        paths.append(save_figure(fig, Path(folder) / f"curves_{task}.png"))
    return paths
