"""ARIMA: one ARIMA(3,0,1) with a constant per node, fitted on the target's few-shot window only.

Box & Jenkins, *Time Series Analysis: Forecasting and Control* (1970); a classic traffic
baseline (e.g. ARIMA in DCRNN, Li et al., ICLR 2018). Each node gets statsmodels'
``ARIMA(order=(3, 0, 1), trend="c")`` (a mean plus ARMA(3,1) errors), fitted once by state-space
maximum likelihood (L-BFGS, at most ``maxiter`` iterations and ``time_limit_s`` seconds of wall
clock per node); nodes are fitted in parallel by a process pool.

* **Missing values.** Before fitting, and in the test windows' inputs, every value the city's mask
  marks missing (NaN, or 0 where 0 means missing) is replaced by the HA value of its (time-of-day
  slot, node) (:func:`baselines.ha.slot_means`).
* **Forecasting.** Every test window is forecast 6 steps ahead from its own 12 input steps, filtered
  with the node's fixed parameters from the stationary start: what
  ``results.apply(window).forecast(6)`` computes. With fixed parameters the Kalman filter is affine
  in the observations, so that forecast is ``bias + weights @ window``; both are read off 13 probe
  windows per node, and scoring all test windows is one product (a test checks it against ``apply``).
* **Fallback.** A node whose filled few-shot series is constant, whose fit fails or runs out of
  time, or whose forecast map is not finite is forecast by HA; every such node is logged.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
from statsmodels.tsa.arima.model import ARIMA
from threadpoolctl import threadpool_limits

from baselines.checks import is_int
from baselines.registry import register_baseline
from baselines.cli import cli_main, parser
from baselines.common import Forecast, StatisticalConfig, input_steps, run_baseline
from baselines.ha import slot_forecast, slot_means
from baselines.progress import bar
from tsjt_basicts.data.city import City
from tsjt_basicts.data.split import Protocol, StepRange
from tsjt_basicts.data.task_spec import TaskRef
from tsjt_basicts.errors import ConfigError

logger = logging.getLogger(__name__)
ARIMA_ORDER = (3, 0, 1)


class FitTimeout(RuntimeError):
    """A node's fit ran past its wall-clock limit."""


@dataclass(frozen=True)
class NodeModel:
    """A node's forecast map ``bias + weights @ inputs``, or why HA replaces it."""

    weights: np.ndarray | None  # [output_len, input_len]
    bias: np.ndarray | None  # [output_len]
    fallback: str = ""  # empty when fitted


def filled_values(city: City, table: np.ndarray) -> np.ndarray:
    """``[T, N]`` channel 0 with every missing value replaced by the HA value of its slot."""
    slots = np.arange(city.num_steps) % city.steps_per_day
    return np.where(city.valid_mask(), city.series[..., 0], table[slots]).astype(np.float64)


def affine_forecast(result, anchor: np.ndarray, scale: float, output_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``(weights [H, L], bias [H])`` with ``result.apply(x).forecast(H) == bias + weights @ x``.

    Read off the forecasts from ``anchor`` and from ``anchor + scale * e_k`` for every input step k.
    """
    base = result.apply(anchor).forecast(output_len)
    probes = [(result.apply(anchor + scale * unit).forecast(output_len) - base) / scale for unit in np.eye(len(anchor))]
    weights = np.stack(probes, axis=1)
    return weights, base - weights @ anchor


def fit_node(
    series: np.ndarray, order: tuple[int, int, int], input_len: int, output_len: int, maxiter: int, time_limit_s: float
) -> NodeModel:
    """Fit one node's few-shot series (no missing values) and return its forecast map."""
    if np.ptp(series) == 0:
        return NodeModel(None, None, "constant few-shot series")
    deadline = time.monotonic() + time_limit_s

    def guard(_params: np.ndarray) -> None:
        if time.monotonic() > deadline:
            raise FitTimeout(f"time limit of {time_limit_s:g} s reached")

    try:  # one BLAS thread: these matrices are tiny, and idle BLAS threads spin on a busy machine
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore")  # convergence warnings: the iteration cap is deliberate
            result = ARIMA(series, order=order, trend="c").fit(
                method_kwargs={"maxiter": maxiter, "callback": guard}, cov_type="none"
            )
            anchor = np.full(input_len, series.mean())
            weights, bias = affine_forecast(result, anchor, float(series.std()), output_len)
    except Exception as error:  # any statsmodels failure: the node falls back to HA, logged
        return NodeModel(None, None, f"fit failed ({type(error).__name__}: {error})")
    if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
        return NodeModel(None, None, "non-finite forecast map")
    return NodeModel(weights, bias)


def fit_nodes(series: np.ndarray, job: partial, max_workers: int) -> list[NodeModel]:
    """Fit every column of ``series`` ``[T, N]``, in ``max_workers`` processes (a progress bar over the nodes)."""
    columns = [np.ascontiguousarray(series[:, node]) for node in range(series.shape[1])]
    if max_workers == 1:
        return [job(column) for column in bar(columns, len(columns), "ARIMA nodes")]
    with ProcessPoolExecutor(max_workers=max_workers) as pool:
        return list(bar(pool.map(job, columns), len(columns), "ARIMA nodes"))


def fit_arima(
    city: City,
    steps: StepRange,
    protocol: Protocol,
    order: tuple[int, int, int] = ARIMA_ORDER,
    max_workers: int | None = None,
    maxiter: int = 50,
    time_limit_s: float = 20.0,
) -> Forecast:
    """ARIMA fitted per node on ``steps`` of ``city`` (``max_workers`` default: min(2, CPUs))."""
    table = slot_means(city, steps)
    values = filled_values(city, table)
    job = partial(
        fit_node, order=order, input_len=protocol.input_len, output_len=protocol.output_len,
        maxiter=maxiter, time_limit_s=time_limit_s,
    )
    workers = max_workers or min(2, os.cpu_count() or 1)
    logger.info("ARIMA%s on %s: fitting %d nodes in %d process(es)", order, city.name, city.num_nodes, workers)
    models = fit_nodes(values[steps.start : steps.stop], job, workers)
    for node, model in enumerate(models):
        if model.fallback:
            logger.warning("ARIMA%s on %s, node %d: %s; forecasting it by HA", order, city.name, node, model.fallback)
    fitted = np.array([node for node, model in enumerate(models) if not model.fallback], dtype=np.int64)
    logger.info("ARIMA%s on %s: %d of %d nodes fitted", order, city.name, len(fitted), city.num_nodes)
    weights = np.stack([models[node].weights for node in fitted]) if len(fitted) else None  # [F, H, L]
    bias = np.stack([models[node].bias for node in fitted]) if len(fitted) else None  # [F, H]

    def forecast(starts: np.ndarray) -> np.ndarray:
        prediction = slot_forecast(table, starts, protocol)  # [B, H, N], HA for the fallback nodes
        if len(fitted):
            inputs = values[input_steps(starts, protocol)][:, :, fitted]  # [B, L, F]
            prediction[:, :, fitted] = np.einsum("fhl,blf->bhf", weights, inputs) + bias.T
        return prediction

    return forecast


@register_baseline("ARIMA")
def run(
    task: TaskRef,
    seed: int = 0,
    protocol: str = "strict",
    out_root: str = "checkpoints",
    data_root: str | None = None,
    target_days: float = 3.0,
    data_seed: int = 0,
    max_workers: int | None = None,
) -> dict:
    """ARIMA on ``task`` (a name, spec or task file); writes its record at
    :func:`~baselines.common.baseline_result_path` (``<out_root>/ARIMA/<task>/<protocol>_seed<seed>/<digest>/``).

    ``max_workers`` (default min(2, CPUs)) changes the speed, not the result, so it is not a setting of the run.
    """
    if max_workers is not None and (not is_int(max_workers) or max_workers < 1):
        raise ConfigError(f"ARIMA: max_workers (processes fitting nodes) must be an integer >= 1, got {max_workers!r}")
    config = StatisticalConfig(target_days, data_seed)
    fit = partial(fit_arima, max_workers=max_workers)
    return run_baseline("ARIMA", fit, task, seed, protocol, out_root, data_root, config)


def main(argv: list[str] | None = None) -> int:
    cli = parser("ARIMA")
    cli.add_argument("--workers", type=int, default=None, help="processes fitting nodes (default: min(2, CPUs))")
    return cli_main(cli, argv, lambda args: run(
        args.task, args.seed, args.protocol, args.out_root, args.data_root, args.target_days, args.data_seed,
        args.workers,
    ))


if __name__ == "__main__":
    sys.exit(main())
