"""TSJTRunner: BasicTS's runner with the two-pass Target-Skewed Backward step.

BasicTS's own loop runs the target sub-batch (forward, loss, backward) and then calls
``_optimizer_step``; that single method is overridden to stash g_T, run forward + backward on
every source city's sub-batch (accumulating g_S of the source loss L_S, the mean over all source
samples), combine them with TSB (Eqs. 8-10) and take one optimizer step. Validation, test,
checkpoints, TensorBoard, early stopping, resume and DDP stay BasicTS's.

Under DDP every backward is all-reduced by DDP itself, so both g_T and g_S are global means
before they are combined and every rank computes the same update. Under AMP both passes are
scaled by the same GradScaler factor; TSB is homogeneous of degree one, so the scaler's
unscale-then-step after the combination is exact.
"""
from __future__ import annotations

from typing import Any

import torch
from basicts.runners import BasicTSRunner
from basicts.utils import RunnerStatus

from tsjt_basicts.metrics import MetricAccumulator
from tsjt_basicts.results import result_record, write_result
from tsjt_basicts.tsb import build_combiner


def take_gradients(params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """Hand over the accumulated ``.grad`` of each parameter and clear it (no copy)."""
    grads = [p.grad for p in params]
    for p in params:
        p.grad = None
    return grads


class TSJTRunner(BasicTSRunner):
    """A BasicTSRunner whose optimizer step combines target and source gradients.

    Reads from the config (``cfg.tsjt``): ``combiner`` ("tsb" or "sum"), ``source_ratio``
    (gamma2 / gamma1), ``granularity`` ("tensor", "module", "model"), ``clip_grad_norm``
    (None or a max norm applied to the combined gradient), and the ``meta`` written beside the
    test metrics (method, task, seed, ...).
    """

    def __init__(self, cfg):
        super().__init__(cfg)
        settings = cfg.tsjt
        model = self.model.module if hasattr(self.model, "module") else self.model
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.trainable = [p for _, p in named]
        self.combiner = build_combiner(settings["combiner"], named, settings["source_ratio"], settings["granularity"])
        self.clip_grad_norm = settings["clip_grad_norm"]
        self.source_batches: list[dict[str, Any]] = []
        self.test_metrics: MetricAccumulator | None = None

    def _init_train(self) -> None:
        super()._init_train()
        self.register_meter("train/dropped_parallel", "train", "{:.3f}")
        self.register_meter("train/grad_cosine", "train", "{:.3f}")

    def _forward(self, model, data: dict, step: int, epoch: int | None = None) -> dict:
        if self.status == RunnerStatus.TRAINING and "sources" in data:
            self.source_batches = data.pop("sources")
        return super()._forward(model, data, step, epoch)

    def _backward_sources(self) -> None:
        """Accumulate g_S of L_S = the mean loss over all source samples of this step."""
        total = sum(batch["inputs"].shape[0] for batch in self.source_batches)
        for batch in self.source_batches:
            with self.amp_ctx:
                forward_return = self._forward(self.model, batch, self.global_steps, self.epoch)
                loss = self._metric_forward(self.loss, forward_return) * (batch["inputs"].shape[0] / total)
            self.amp_scaler.scale(loss).backward()

    def _optimizer_step(self) -> None:
        target_grads = take_gradients(self.trainable)
        self._backward_sources()
        source_grads = take_gradients(self.trainable)
        combined, stats = self.combiner(target_grads, source_grads, self.trainable)
        for param, grad in zip(self.trainable, combined):
            param.grad = grad
        if self.clip_grad_norm is not None:
            self.amp_scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.trainable, self.clip_grad_norm)
        self.update_meter("train/dropped_parallel", stats.dropped_fraction)
        self.update_meter("train/grad_cosine", stats.cosine)
        self.source_batches = []
        super()._optimizer_step()

    def on_eval_start(self, ckpt_path: str | None) -> None:
        super().on_eval_start(ckpt_path)
        self.test_metrics = MetricAccumulator(self.cfg.output_len)

    def _save_results(self, batch_idx: int, batch_data: dict[str, Any]) -> None:
        """Score every test batch by the shared protocol (in the city's units) instead of dumping it."""
        self.test_metrics.update(batch_data["prediction"], batch_data["targets"], batch_data["targets_mask"])

    def _save_metrics(self) -> None:
        """``test_metrics.json``: protocol metrics of the target city plus what produced them."""
        dataset = self.test_data_loader.dataset
        record = result_record(self.cfg.tsjt["meta"], dataset.target_windows, dataset.protocol.name, self.test_metrics)
        path = write_result(self.ckpt_save_dir, record)
        self.logger.info(f"Test metrics ({record['protocol']} protocol, {record['data_kind']} data) saved to {path}.")
