"""One function builds the BasicTS config of any gradient-trained method on any task.

The methods differ only in switches of the same model and runner, so they share every line of
data handling, training loop and evaluation:

=============  =====  =====  ========  ===========================================
method         NPM    A_K    sources   gradient combination
=============  =====  =====  ========  ===========================================
TSJT           yes    yes    yes       TSB, source ratio gamma2/gamma1 by grid search
TSJT-paper     yes    yes    yes       TSB, the paper's source ratio 1e-6 / 2e-4 (Eq. 10)
TSJT-noNPM     no     no     yes       TSB (paper ablation "w/o NPM")
TSJT-noAK      yes    no     yes       TSB (paper ablation "w/o A_K")
TSJT-sum       yes    yes    yes       g_T + (gamma2/gamma1) g_S: TSB's projection left out
Joint          yes    yes    yes       g_T + g_S: plain joint training, equal weights
TargetOnly     no     no     no        the target gradient alone
=============  =====  =====  ========  ===========================================

TargetOnly trains on one city, so a backbone with per-node embeddings (Graph WaveNet's
``num_nodes``) gets them, as its users know it; the cross-city methods cannot have them.

The paper's own "w/o TSB" (Fig. 3: the NPM model trained with Reptile) is the baseline
``TSJT-noTSB`` (:mod:`baselines.npm_reptile`).

All three backbones (STGCN, Graph WaveNet, DCRNN) get X~ and the support built from A_K; every
result records whether A_K was used (``prompt_graph_used``) with all other settings of the run.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import get_args

import torch
from basicts.configs import BasicTSForecastingConfig
from basicts.runners.callback import EarlyStopping

from tsjt_basicts.data.split import VAL_DAYS, Protocol
from tsjt_basicts.data.task_spec import Task, TaskRef
from tsjt_basicts.data.tasks import TASKS, resolve_task
from tsjt_basicts.engine.dataset import CrossCityDataset, TaskData, cached_task
from tsjt_basicts.engine.taskflow import CrossCityTaskFlow
from tsjt_basicts.errors import ConfigError
from tsjt_basicts.backbones import backbone_class
from tsjt_basicts.data.city import City
from tsjt_basicts.npm import NodePromptedConfig, NodePromptedModel, NPMConfig, default_num_prompts
from tsjt_basicts.results import run_folder
from tsjt_basicts.runner import TSJTSettings, check_autocast
from tsjt_basicts.data.windows import SourceAllocation
from tsjt_basicts.tsb import GAMMA1, GAMMA2, Granularity


@dataclass(frozen=True)
class Method:
    """What distinguishes one gradient-trained method from another."""

    npm: bool
    prompt_graph: bool
    use_sources: bool
    combiner: str
    source_ratio: float | str  # gamma2 / gamma1, or GRID: picked on the validation days (tsjt_basicts.grid)

    @property
    def grid_searched(self) -> bool:
        return self.source_ratio == GRID


PAPER_RATIO = GAMMA2 / GAMMA1
GRID = "grid"
METHODS: dict[str, Method] = {
    "TSJT": Method(npm=True, prompt_graph=True, use_sources=True, combiner="tsb", source_ratio=GRID),
    "TSJT-paper": Method(npm=True, prompt_graph=True, use_sources=True, combiner="tsb", source_ratio=PAPER_RATIO),
    "TSJT-noNPM": Method(npm=False, prompt_graph=False, use_sources=True, combiner="tsb", source_ratio=PAPER_RATIO),
    "TSJT-noAK": Method(npm=True, prompt_graph=False, use_sources=True, combiner="tsb", source_ratio=PAPER_RATIO),
    "TSJT-sum": Method(npm=True, prompt_graph=True, use_sources=True, combiner="sum", source_ratio=PAPER_RATIO),
    "Joint": Method(npm=True, prompt_graph=True, use_sources=True, combiner="sum", source_ratio=1.0),
    "TargetOnly": Method(npm=False, prompt_graph=False, use_sources=False, combiner="sum", source_ratio=0.0),
}
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


@dataclass
class Budget:
    """How long and with what batches a run trains: optimizer steps, whatever the city's interval.

    The same budget fixes the target fine-tuning of every trained baseline (suite presets).
    """

    steps: int = field(default=6000, metadata={"help": "optimizer steps of the run"})
    steps_per_epoch: int = field(default=200, metadata={"help": "steps between validations / checkpoints"})
    target_batch: int = field(default=4, metadata={"help": "target samples per step and process (paper: 4)"})
    source_batch: int = field(default=124, metadata={"help": "source samples per step and process (paper: 124)"})
    eval_batch_size: int = field(default=64, metadata={"help": "windows per validation / test batch"})

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"Budget.{name}={value!r} must be a whole number >= 1")
        if self.steps % self.steps_per_epoch:
            raise ConfigError(
                f"Budget.steps ({self.steps}) must be a multiple of steps_per_epoch ({self.steps_per_epoch})"
            )

    @property
    def num_epochs(self) -> int:
        return self.steps // self.steps_per_epoch


BUDGETS: dict[str, Budget] = {
    # the paper: 30 epochs of 4 + 124 windows; on METR-LA's 3 days that is ~6,300 steps
    "paper": Budget(steps=6000, steps_per_epoch=200, target_batch=4, source_batch=124),
    # the same for every method on two CPU cores: 600 steps, where metro TSJT / TargetOnly were
    # still improving at 300 (measured, see README) and the old 4-epoch budget gave 104 on a
    # 10-minute city and 16 on an hourly one
    "cpu": Budget(steps=600, steps_per_epoch=100, target_batch=16, source_batch=32),
    "smoke": Budget(steps=6, steps_per_epoch=3, target_batch=64, source_batch=12, eval_batch_size=512),
}
# Graph WaveNet at half its residual width and a quarter of its skip/end widths, for CPU runs
CPU_GWN = dict(residual_channels=16, dilation_channels=16, skip_channels=64, end_channels=128)
TINY_GWN = dict(residual_channels=8, dilation_channels=8, skip_channels=16, end_channels=16, blocks=2)
BACKBONE_WIDTHS = {  # per budget and backbone; a backbone not named keeps its paper widths
    "paper": {},
    "cpu": {
        "GWN": CPU_GWN,
        "DSTAGNN": dict(num_blocks=2, channels=16, d_model=32, d_k=16, end_channels=64),
        "FOGS": dict(embedding_channels=32, hidden_channels=32, convs_per_layer=2, output_hidden=64, node2vec_dim=32),
    },
    "smoke": {
        "GWN": TINY_GWN, "STGCN": {"block_channels": (8, 4, 8)}, "DCRNN": {"hidden_size": 8},
        "DSTAGNN": dict(num_blocks=1, channels=8, d_model=16, d_k=4, num_heads=2, end_channels=16),
        "FOGS": dict(embedding_channels=8, hidden_channels=8, num_layers=2, convs_per_layer=2, output_hidden=16,
                     node2vec_dim=4, node2vec_epochs=1, graph_neighbours=3),
    },
}


def backbone_widths(backbone: str, budget: str) -> dict:
    """The backbone config fields a named budget sets for ``backbone`` (every method alike)."""
    return dict(BACKBONE_WIDTHS[budget].get(backbone, {}))


@dataclass
class Training:
    """Optimisation settings shared by every method (paper defaults)."""

    lr: float = field(default=GAMMA1, metadata={"help": "gamma1, the learning rate of the target term"})
    optimizer: str = field(default="adam", metadata={"help": "'adam', or 'sgd' for Eq. 10 literally"})
    source_ratio: float | None = field(
        default=None, metadata={"help": "gamma2 / gamma1; None = the method's (TSJT: grid search, tsjt_basicts.grid)"}
    )
    granularity: str = field(default="tensor", metadata={"help": "TSB per 'tensor' (paper), 'module', 'model'"})
    clip_grad_norm: float | None = field(default=None, metadata={"help": "clip the combined gradient (off: Eq. 10)"})
    patience: int | None = field(default=None, metadata={"help": "early stopping on validation MAE (epochs)"})
    autocast: str | None = field(default=None, metadata={"help": "'bf16': training forwards under CUDA autocast"})

    def __post_init__(self) -> None:
        positive = {"lr": self.lr, "clip_grad_norm": self.clip_grad_norm, "patience": self.patience}
        for name, value in positive.items():  # None = off, where allowed
            if (value is not None or name == "lr") and not (is_finite_number(value) and value > 0):
                raise ConfigError(f"Training.{name}={value!r} must be a finite number > 0"
                                  + ("" if name == "lr" else " (or None: off)"))
        if self.source_ratio is not None and not (is_finite_number(self.source_ratio) and self.source_ratio >= 0):
            raise ConfigError(f"Training.source_ratio={self.source_ratio!r} must be a finite number >= 0 "
                              "(or None: the method's)")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; use one of {sorted(OPTIMIZERS)}")
        if self.granularity not in get_args(Granularity):
            raise ConfigError(f"Training.granularity={self.granularity!r}; use one of {get_args(Granularity)}")
        check_autocast(self.autocast)

    def record(self, source_ratio: float) -> dict:
        """The settings as the result's metadata; autocast only when on, so a run without it keeps
        the config identity (md5) it had before the option existed."""
        fields = {**asdict(self), "source_ratio": source_ratio}
        if self.autocast is None:
            del fields["autocast"]
        return fields


def is_finite_number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# The optimisation each budget trains with. The cpu budget's 600 steps are a tenth of the paper's,
# too few for gamma1 = 2e-4 to converge, so it trains at 1e-3 (Reptile's and TPB's rate under the
# same budget); the TSB ratio gamma2/gamma1 is the method's in every budget.
TRAININGS: dict[str, Training] = {"paper": Training(), "cpu": Training(lr=1e-3), "smoke": Training()}


def model_config(method: Method, backbone: str, target: City, protocol: Protocol, num_prompts: int | None,
                 prompt_dim: int, backbone_config: dict | None, npm_options: dict | None = None) -> NodePromptedConfig:
    """The backbone, wrapped by the NPM where the method uses it (K = half the target's nodes)."""
    fields = backbone_class(backbone).Config.field_names()  # an unknown name fails here, before any data work
    prompts = default_num_prompts(target.num_nodes) if num_prompts is None else num_prompts
    npm = NPMConfig(num_prompts=prompts, prompt_dim=prompt_dim, **(npm_options or {})) if method.npm else None
    settings = dict(backbone_config or {})
    if not method.use_sources and "num_nodes" in fields:  # one city: the backbone's own node embeddings
        settings.setdefault("num_nodes", target.num_nodes)
    return NodePromptedConfig(
        backbone, npm, method.prompt_graph, input_len=protocol.input_len, output_len=protocol.output_len,
        backbone_config=settings,
    )


def budget_compute(budget: Budget, use_sources: bool) -> dict[str, int]:
    """Optimizer steps and windows a gradient method trains on under ``budget`` (one process)."""
    source = budget.steps if use_sources else 0
    return {"target_steps": budget.steps, "target_samples": budget.steps * budget.target_batch,
            "source_steps": source, "source_samples": source * budget.source_batch}


def dataset_params(task: Task, data: TaskData, method: Method, protocol: Protocol, budget: Budget,
                   source_allocation: str, seed: int, data_seed: int, data_root: str | None) -> dict:
    """Keyword arguments of :class:`CrossCityDataset` (BasicTS adds the mode); a user's task travels
    as its spec, and the data's digest makes it part of the run's identity (config md5)."""
    spec = None if task.name in TASKS else {**asdict(task), "sources": list(task.sources)}
    return dict(
        dataset_name=task.name, task_spec=spec, data_digest=data.digest, input_len=protocol.input_len, output_len=protocol.output_len, protocol=protocol.name,
        target_days=protocol.target_days, val_days=protocol.val_days, use_sources=method.use_sources,
        target_batch=budget.target_batch, source_batch=budget.source_batch, source_allocation=source_allocation,
        steps_per_epoch=budget.steps_per_epoch,
        eval_batch_size=budget.eval_batch_size, seed=seed, data_seed=data_seed, data_root=data_root,
    )


def experiment_config(
    task: TaskRef,
    method: str = "TSJT",
    backbone: str = "GWN",
    seed: int = 0,
    data_seed: int = 0,
    budget: Budget | None = None,
    training: Training | None = None,
    protocol: str = "strict",
    target_days: float = 3.0,
    val_days: float = VAL_DAYS,
    source_allocation: str = "uniform",
    num_prompts: int | None = None,
    prompt_dim: int = 16,
    npm_options: dict | None = None,
    backbone_config: dict | None = None,
    gpus: str | None = None,
    data_root: str | None = None,
    ckpt_root: str = "checkpoints",
    grid_candidate: bool = False,
) -> BasicTSForecastingConfig:
    """The BasicTS config of ``method`` with ``backbone`` on ``task`` (see the module table).

    ``task`` is a registered name, a spec dict or a task file (:mod:`tsjt_basicts.data.task_spec`).

    ``npm_options`` sets other :class:`~tsjt_basicts.npm.NPMConfig` fields (score scale, support,
    ...). ``Training(optimizer="sgd")`` with the TSJT method applies Eq. 10 literally (lr = gamma1,
    source ratio gamma2 / gamma1). A task whose series are absent fails here, with the files to
    obtain and how to prepare them. Every setting lands in the result file's metadata;
    ``grid_candidate`` marks one run of a source-ratio grid (the leaderboard skips those).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; known: {sorted(METHODS)}")
    if source_allocation not in get_args(SourceAllocation):
        raise ConfigError(f"source_allocation={source_allocation!r}; use one of {get_args(SourceAllocation)}")
    spec, budget, training = METHODS[method], budget or Budget(), training or Training()
    split, task = Protocol(protocol, target_days, val_days), resolve_task(task)
    data = cached_task(task, data_root, data_seed, split)
    target = data.target
    model = model_config(spec, backbone, target, split, num_prompts, prompt_dim, backbone_config, npm_options)
    source_ratio = spec.source_ratio if training.source_ratio is None else training.source_ratio
    if source_ratio == GRID:
        raise ValueError(
            f"{method} picks its source ratio by grid search on the validation days: run it with run.py, the "
            "suite or tsjt_basicts.grid.run_ratio_grid, or give Training(source_ratio=...) for one run"
        )
    meta = {
        "method": method, "backbone": backbone, "task": task.name, "seed": seed, "data_seed": data_seed,
        "data_digest": data.digest,
        "target_days": target_days, "val_days": val_days, "source_allocation": source_allocation,
        "budget": asdict(budget), "training": training.record(source_ratio),
        "num_prompts": model.npm.num_prompts if model.npm else None, "prompt_dim": prompt_dim if model.npm else None,
        "prompt_graph_used": model.uses_prompt_graph, "npm_config": asdict(model.npm) if model.npm else None,
        "backbone_config": model.backbone_config, "compute": budget_compute(budget, spec.use_sources),
        "grid_candidate": grid_candidate,
    }
    if training.autocast is not None and gpus is None:
        raise ConfigError(f"Training.autocast={training.autocast!r} needs a GPU run: give gpus='0' "
                          "(torch's CPU sparse kernels have no bfloat16), or leave autocast off")
    settings = TSJTSettings(spec.combiner, source_ratio, training.granularity, training.clip_grad_norm, meta,
                            autocast=training.autocast)
    return BasicTSForecastingConfig(
        model=NodePromptedModel,
        model_config=model,
        dataset_name=task.name,
        dataset_type=CrossCityDataset,
        dataset_params=dataset_params(task, data, spec, split, budget, source_allocation, seed, data_seed, data_root),
        input_len=split.input_len,
        output_len=split.output_len,
        taskflow=CrossCityTaskFlow(),
        scaler=None,
        rescale=True,
        loss="MAE",
        metrics=["MAE", "RMSE", "MAPE"],
        target_metric="MAE",
        num_epochs=budget.num_epochs,
        optimizer=OPTIMIZERS[training.optimizer],
        optimizer_params={"lr": training.lr, "weight_decay": 0.0},
        train_batch_size=None,
        val_batch_size=None,
        test_batch_size=None,
        train_data_shuffle=True,
        train_data_pin_memory=gpus is not None,  # the step's source copies can then overlap the target pass
        test_interval=10**9,  # the test set is scored once, by eval after training
        callbacks=[EarlyStopping(training.patience)] if training.patience else [],
        gpus=gpus,
        seed=seed,
        # absolute: BasicTS hashes the folder into the run's identity (md5), so one folder spelled two ways
        # (checkpoints/x, ./checkpoints/x, /abs/checkpoints/x) must not be two runs
        ckpt_save_dir=run_folder(os.path.abspath(ckpt_root), method, backbone, task.name, protocol, seed),
        tsjt=settings,
    )
