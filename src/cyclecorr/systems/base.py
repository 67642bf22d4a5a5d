"""Run-time policy shared by every training objective's LightningModule.

The objectives (``TimeCycleSystem``, ``CRWSystem``) differ in their maths, which lives in plain
modules and is reached through one method, ``compute_loss(batch)``, that training, validation,
the training benchmark and the visual callback all call; what they share is how a run behaves,
and that lives here:

- an ``encoder`` attribute: checkpoints hold it under the ``encoder.`` prefix, evaluation and the
  online DAVIS probe read only it;
- warm-up: the encoder is frozen (``requires_grad=False``, BatchNorm in eval mode) for the first
  ``freeze_encoder_steps`` optimiser steps, then unfrozen (re-applied every batch, since
  Lightning puts the module back in train mode after validation);
- the NaN guard: a non-finite loss skips the step (nothing is back-propagated), is counted, and
  ``max_nonfinite_in_row`` of them in a row stop the run with an error, leaving the last good
  checkpoint untouched; ranks agree, so DDP skips together;
- run-long counters (non-finite steps, unreadable videos skipped) that survive resume;
- the optimiser (a partial over all parameters) and an optional per-step LR scheduler;
- the training step itself: ``compute_loss``, the guard, ``train/loss`` and the objective's
  ``train_metrics``;
- an optional ``torch.compile`` of the networks (``compile=True``; the encoder here, each objective
  adds its own modules through ``maybe_compile``), compiled in place with ``nn.Module.compile``
  so parameter names, checkpoints and the ``encoder`` attribute are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

Batch = dict[str, Tensor]


class LossResult(Protocol):
    """What an objective's ``compute_loss`` returns: at least the scalar to back-propagate."""

    @property
    def total(self) -> Tensor: ...


class CorrespondenceSystem(pl.LightningModule):
    """Base LightningModule: encoder, warm-up, NaN guard, counters, optimiser.

    Args:
        encoder: the feature encoder ``phi`` (``Encoder``).
        optimizer: a partial taking ``params`` and returning a ``torch.optim.Optimizer``.
        scheduler: optional partial taking ``optimizer`` and returning an LR scheduler, stepped
            every optimiser step.
        freeze_encoder_steps: optimiser steps during which the encoder is frozen (0 = never).
        max_nonfinite_in_row: consecutive non-finite losses that abort the run.
        compile: ``torch.compile`` the encoder (and the objective's own networks) in place; the
            values are the eager ones up to float rounding. The first steps pay the compilation.
    """

    def __init__(
        self,
        encoder: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        freeze_encoder_steps: int = 0,
        max_nonfinite_in_row: int = 10,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.compile_networks = compile
        self.encoder = self.maybe_compile(encoder)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.freeze_encoder_steps = freeze_encoder_steps
        self.max_nonfinite_in_row = max_nonfinite_in_row
        self.nonfinite_in_row = 0
        self.nonfinite_steps = 0
        self.skipped_videos = 0

    def maybe_compile(self, module: nn.Module) -> nn.Module:
        """``module`` itself, compiled in place (``nn.Module.compile``) when ``compile=True``.

        In place, unlike ``torch.compile(module)``, which wraps it: the state-dict keys stay
        ``encoder.*`` / ``tracker.*``, so checkpoints load either way. ``dynamic=False``: one
        graph per input shape (the tracker sees ``k`` batch sizes per step, the encoder two
        image sizes), because with symbolic batch sizes the backward of ``affine_grid`` fails in
        torch 2.14 ("SymIntArrayRef expected to contain only concrete integers").
        """
        if self.compile_networks:
            module.compile(dynamic=False)
        return module

    # -------------------------------------------------------------- objective
    def compute_loss(self, batch: Batch) -> Any:
        """The objective on one batch: a result with ``total`` (implemented by each objective)."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss")

    def batch_size(self, batch: Batch) -> int:
        """Clips in ``batch`` (implemented by each objective)."""
        raise NotImplementedError(f"{type(self).__name__} must implement batch_size")

    def train_metrics(self, out: Any) -> dict[str, Tensor]:
        """What to log besides ``train/loss`` (implemented by each objective)."""
        raise NotImplementedError(f"{type(self).__name__} must implement train_metrics")

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        """One optimiser step's loss; ``None`` (the step is skipped) when it is not finite."""
        out = self.compute_loss(batch)
        batch_size = self.batch_size(batch)
        self.log_run_state(batch, batch_size)
        if not self.guard_loss(out.total, batch_size):
            return None
        self.log("train/loss", out.total, prog_bar=True, batch_size=batch_size)
        self.log_dict(self.train_metrics(out), batch_size=batch_size)
        return out.total

    # ---------------------------------------------------------------- warm-up
    def encoder_frozen(self) -> bool:
        """Whether the current optimiser step is inside the frozen-encoder warm-up."""
        return self.global_step < self.freeze_encoder_steps

    def apply_encoder_freeze(self, frozen: bool) -> None:
        """Freeze (no grads, BatchNorm running stats fixed) or unfreeze the encoder."""
        for param in self.encoder.parameters():
            param.requires_grad_(not frozen)
        self.encoder.train(not frozen)

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        """Re-apply the warm-up state every batch: Lightning resets train mode after validation."""
        self.apply_encoder_freeze(self.encoder_frozen())

    # -------------------------------------------------------------- NaN guard
    def log_run_state(self, batch: Batch, batch_size: int) -> None:
        """Log the skipped-video count (adding this batch's) and the warm-up state."""
        self.skipped_videos += int(batch["skipped"].sum())
        self.log("train/skipped_videos", float(self.skipped_videos), batch_size=batch_size)
        self.log("train/encoder_frozen", float(self.encoder_frozen()), batch_size=batch_size)

    def guard_loss(self, total: Tensor, batch_size: int) -> bool:
        """``loss_is_finite`` plus the ``train/nonfinite_steps`` log; False means skip the step."""
        finite = self.loss_is_finite(total)
        self.log("train/nonfinite_steps", float(self.nonfinite_steps), batch_size=batch_size)
        return finite

    def loss_is_finite(self, total: Tensor) -> bool:
        """Count non-finite losses (agreed across ranks) and raise after too many in a row.

        Raises:
            RuntimeError: ``max_nonfinite_in_row`` consecutive non-finite losses.
        """
        finite = bool(torch.isfinite(total).all())
        if self._trainer is not None:
            # every rank must skip together, or DDP would wait forever for the missing gradients
            finite = self.trainer.strategy.reduce_boolean_decision(finite, all=True)
        if finite:
            self.nonfinite_in_row = 0
            return True
        self.nonfinite_in_row += 1
        self.nonfinite_steps += 1
        if self.nonfinite_in_row >= self.max_nonfinite_in_row:
            raise RuntimeError(
                f"{__name__}: the training loss was non-finite (NaN/inf) for "
                f"{self.nonfinite_in_row} steps in a row (max_nonfinite_in_row="
                f"{self.max_nonfinite_in_row}) at global step {self.global_step}. Expected a "
                "finite loss; the last good checkpoint was left intact. Lower the learning rate "
                "(model.optimizer.lr), keep gradient clipping on (trainer.gradient_clip_val), or "
                "resume with resume=true."
            )
        return False

    # -------------------------------------------------------------- optimiser
    def configure_optimizers(self) -> Any:
        """Build the optimiser over every parameter (frozen ones included, for after warm-up)."""
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # ------------------------------------------------------ resumable counters
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the run-long counters (a resumed run keeps summing them) and the encoder layout."""
        checkpoint["cyclecorr_counters"] = {
            "nonfinite_steps": self.nonfinite_steps,
            "skipped_videos": self.skipped_videos,
        }
        layout = getattr(self.encoder, "layout", None)
        if callable(layout):  # plain values: evaluation rebuilds the encoder from them
            checkpoint["cyclecorr_encoder"] = layout()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the run-long counters written by ``on_save_checkpoint``."""
        counters = checkpoint.get("cyclecorr_counters", {})
        self.nonfinite_steps = int(counters.get("nonfinite_steps", 0))
        self.skipped_videos = int(counters.get("skipped_videos", 0))
