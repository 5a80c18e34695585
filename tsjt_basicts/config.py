"""One function builds the BasicTS config of any gradient-trained method on any task.

The methods differ only in switches of the same model and runner, so they share every line of
data handling, training loop and evaluation:

=============  =====  =====  ========  ===========================================
method         NPM    A_K    sources   gradient combination
=============  =====  =====  ========  ===========================================
TSJT           yes    yes    yes       TSB, source ratio gamma2/gamma1 (Eq. 10)
TSJT-noNPM     no     no     yes       TSB (paper ablation "w/o NPM")
TSJT-noAK      yes    no     yes       TSB (paper ablation "w/o A_K")
Joint          yes    yes    yes       plain sum g_T + g_S (TSJT without TSB)
TargetOnly     no     no     no        the target gradient alone
=============  =====  =====  ========  ===========================================
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from basicts.configs import BasicTSForecastingConfig
from basicts.runners.callback import EarlyStopping

from tsjt_basicts.data.split import Protocol
from tsjt_basicts.engine.dataset import CrossCityDataset, cached_task
from tsjt_basicts.engine.taskflow import CrossCityTaskFlow
from tsjt_basicts.npm import NodePromptedConfig, NodePromptedModel, NPMConfig

GAMMA1, GAMMA2 = 2e-4, 1e-6  # TSJT paper: target and source learning rates of Eq. 10


@dataclass(frozen=True)
class Method:
    """What distinguishes one gradient-trained method from another."""

    npm: bool
    prompt_graph: bool
    use_sources: bool
    combiner: str
    source_ratio: float


METHODS: dict[str, Method] = {
    "TSJT": Method(npm=True, prompt_graph=True, use_sources=True, combiner="tsb", source_ratio=GAMMA2 / GAMMA1),
    "TSJT-noNPM": Method(npm=False, prompt_graph=False, use_sources=True, combiner="tsb", source_ratio=GAMMA2 / GAMMA1),
    "TSJT-noAK": Method(npm=True, prompt_graph=False, use_sources=True, combiner="tsb", source_ratio=GAMMA2 / GAMMA1),
    "Joint": Method(npm=True, prompt_graph=True, use_sources=True, combiner="sum", source_ratio=1.0),
    "TargetOnly": Method(npm=False, prompt_graph=False, use_sources=False, combiner="sum", source_ratio=0.0),
}
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


@dataclass
class Budget:
    """How long and with what batches a run trains."""

    num_epochs: int = field(default=30, metadata={"help": "passes over the target's few-shot windows"})
    target_batch: int = field(default=4, metadata={"help": "target samples per step (paper: 4)"})
    source_batch: int = field(default=124, metadata={"help": "source samples per step over all sources (paper: 124)"})
    eval_batch_size: int = field(default=64, metadata={"help": "windows per validation / test batch"})


BUDGETS: dict[str, Budget] = {
    "paper": Budget(num_epochs=30, target_batch=4, source_batch=124),
    # what two CPU cores finish in minutes per run on the real small tasks; the same for every method
    "cpu": Budget(num_epochs=6, target_batch=16, source_batch=32),
    "smoke": Budget(num_epochs=1, target_batch=64, source_batch=12, eval_batch_size=512),
}
# Graph WaveNet at half its residual width and a quarter of its skip/end widths, for CPU runs
CPU_GWN = dict(residual_channels=16, dilation_channels=16, skip_channels=64, end_channels=128)


def experiment_config(
    task: str,
    method: str = "TSJT",
    backbone: str = "GWN",
    seed: int = 0,
    data_seed: int = 0,
    budget: Budget | None = None,
    lr: float = GAMMA1,
    source_ratio: float | None = None,
    granularity: str = "tensor",
    optimizer: str = "adam",
    protocol: str = "strict",
    target_days: float = 3.0,
    val_days: float = 0.0,
    source_allocation: str = "uniform",
    num_prompts: int | None = None,
    prompt_dim: int = 16,
    backbone_config: dict | None = None,
    clip_grad_norm: float | None = 5.0,
    patience: int | None = None,
    gpus: str | None = None,
    data_root: str | None = None,
    ckpt_root: str = "checkpoints",
) -> BasicTSForecastingConfig:
    """The BasicTS config of ``method`` with ``backbone`` on ``task`` (see the module table).

    ``num_prompts`` defaults to half the target city's nodes (the paper's K). ``optimizer="sgd"``
    with the TSJT method applies Eq. 10 literally (lr = gamma1, source ratio gamma2 / gamma1).
    A task whose series are absent fails here, with the files to obtain and how to prepare them.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {sorted(METHODS)}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {sorted(OPTIMIZERS)}")
    spec, budget = METHODS[method], budget or Budget()
    split_protocol = Protocol(protocol, target_days, val_days)
    target = cached_task(task, data_root, data_seed, split_protocol).target
    npm = NPMConfig(num_prompts=num_prompts or max(1, target.num_nodes // 2), prompt_dim=prompt_dim) if spec.npm else None
    model_config = NodePromptedConfig(backbone, npm, spec.prompt_graph, backbone_config=dict(backbone_config or {}))
    dataset_params = dict(
        dataset_name=task, input_len=12, output_len=6, protocol=protocol, target_days=target_days,
        val_days=val_days, use_sources=spec.use_sources, target_batch=budget.target_batch,
        source_batch=budget.source_batch, source_allocation=source_allocation,
        eval_batch_size=budget.eval_batch_size, seed=seed, data_seed=data_seed, data_root=data_root,
    )
    return BasicTSForecastingConfig(
        model=NodePromptedModel,
        model_config=model_config,
        dataset_name=task,
        dataset_type=CrossCityDataset,
        dataset_params=dataset_params,
        input_len=12,
        output_len=6,
        taskflow=CrossCityTaskFlow(),
        scaler=None,
        rescale=True,
        loss="MAE",
        metrics=["MAE", "RMSE", "MAPE"],
        target_metric="MAE",
        num_epochs=budget.num_epochs,
        optimizer=OPTIMIZERS[optimizer],
        optimizer_params={"lr": lr, "weight_decay": 0.0},
        train_batch_size=None,
        val_batch_size=None,
        test_batch_size=None,
        train_data_shuffle=True,
        test_interval=10**9,  # the test set is scored once, by eval after training
        callbacks=[EarlyStopping(patience)] if patience else [],
        gpus=gpus,
        seed=seed,
        ckpt_save_dir=f"{ckpt_root}/{method}_{backbone}/{task}/{protocol}_seed{seed}",
        tsjt={
            "combiner": spec.combiner,
            "source_ratio": spec.source_ratio if source_ratio is None else source_ratio,
            "granularity": granularity,
            "clip_grad_norm": clip_grad_norm,
            "meta": {
                "method": method, "backbone": backbone, "task": task, "seed": seed, "optimizer": optimizer,
                "target_days": target_days, "data_seed": data_seed, "budget": asdict(budget),
            },
        },
    )
