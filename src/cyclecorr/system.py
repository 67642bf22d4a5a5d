"""The TimeCycle LightningModule: wires encoder, tracker, cycle losses, optimiser and logging.

Training (METHOD.md sections 3-4): the encoder ``phi`` embeds the ``k`` past frames, the target
frame and the query patch; ``TimeCycleLoss`` tracks the patch through the skip and long cycles
with the shared ``Tracker`` and returns ``sum_i w_sim L_sim^i + w_skip L_skip^i + w_long L_long^i``.
The maths lives in those plain modules; this class only adds the run-time policy:

- warm-up: the encoder is frozen (``requires_grad=False``, BatchNorm in eval mode) for the first
  ``freeze_encoder_steps`` optimiser steps so the localizer learns first (the release's remedy
  for a stalled start), then unfrozen;
- a non-finite loss skips the step (nothing is back-propagated), is counted, and
  ``max_nonfinite_in_row`` of them in a row stop the run with an error, leaving the last good
  checkpoint untouched;
- validation reports the cycle losses and the theta error in crop pixels
  (``cyclecorr.utils.metrics.theta_error_px``) of the skip and long cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from cyclecorr.utils.metrics import theta_error_px

Batch = dict[str, Tensor]


class EncodedBatch(NamedTuple):
    """Raw (not normalised) encoder features of one batch.

    Attributes:
        frame_feats: ``(B, k+1, C, H, W)``, past frames oldest first, then the target frame.
        patch_feat: ``(B, C, h, w)`` features of the query patch.
    """

    frame_feats: Tensor
    patch_feat: Tensor


class TimeCycleSystem(pl.LightningModule):
    """TimeCycle training system.

    Args:
        encoder: ``Encoder``, ``forward((N, 3, H, W)) -> (N, C, H/8, W/8)`` raw features.
        tracker: the shared ``Tracker`` (one affinity + localizer + sampler step).
        loss: ``TimeCycleLoss``; ``loss(tracker, frame_feats, patch_feat, theta_gt)`` returns a
            ``LossOutput(total, terms, skip_thetas, long_thetas, direct_thetas)``.
        optimizer: a partial taking ``params`` and returning a ``torch.optim.Optimizer``.
        scheduler: optional partial taking ``optimizer`` and returning an LR scheduler, stepped
            every optimiser step.
        freeze_encoder_steps: optimiser steps during which the encoder is frozen (0 = never).
        max_nonfinite_in_row: consecutive non-finite losses that abort the run.
    """

    def __init__(
        self,
        encoder: nn.Module,
        tracker: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        freeze_encoder_steps: int = 0,
        max_nonfinite_in_row: int = 10,
    ) -> None:
        super().__init__()
        # The partials stay out of the checkpoint so it loads with torch.load(weights_only=True);
        # train.py logs the whole resolved config instead.
        self.save_hyperparameters(ignore=["encoder", "tracker", "loss", "optimizer", "scheduler"])
        self.encoder = encoder
        self.tracker = tracker
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.freeze_encoder_steps = freeze_encoder_steps
        self.max_nonfinite_in_row = max_nonfinite_in_row
        self.nonfinite_in_row = 0
        self.nonfinite_steps = 0
        self.skipped_videos = 0

    # ----------------------------------------------------------------- stages
    def encode(self, batch: Batch) -> EncodedBatch:
        """Embed the frames (BatchNorm pools over batch x time) and the query patch.

        Args:
            batch: ``frames (B, k+1, 3, S, S)`` and ``patch (B, 3, P, P)``, normalised images.

        Returns:
            ``EncodedBatch`` of raw features.
        """
        frames = batch["frames"]
        b, t = frames.shape[:2]
        # one encoder call over all frames so BatchNorm statistics pool over batch x time
        flat = self.encoder(frames.flatten(0, 1))  # (B*(k+1), C, S/8, S/8)
        frame_feats = flat.unflatten(0, (b, t))  # (B, k+1, C, S/8, S/8)
        patch_feat = self.encoder(batch["patch"])  # (B, C, P/8, P/8)
        return EncodedBatch(frame_feats, patch_feat)

    def encoder_frozen(self) -> bool:
        """Whether the current optimiser step is inside the frozen-encoder warm-up."""
        return self.global_step < self.freeze_encoder_steps

    def apply_encoder_freeze(self, frozen: bool) -> None:
        """Freeze (no grads, BatchNorm running stats fixed) or unfreeze the encoder."""
        for param in self.encoder.parameters():
            param.requires_grad_(not frozen)
        self.encoder.train(not frozen)

    # ------------------------------------------------------------- training
    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        """Re-apply the warm-up state every batch: Lightning resets train mode after validation."""
        self.apply_encoder_freeze(self.encoder_frozen())

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        """One cycle-consistency step; returns ``None`` (step skipped) on a non-finite loss."""
        feats = self.encode(batch)
        out = self.loss(self.tracker, feats.frame_feats, feats.patch_feat, batch["theta"])
        batch_size = batch["frames"].shape[0]
        self.skipped_videos += int(batch["skipped"].sum())
        self.log("train/skipped_videos", float(self.skipped_videos), batch_size=batch_size)
        self.log("train/encoder_frozen", float(self.encoder_frozen()), batch_size=batch_size)
        if not self.loss_is_finite(out.total):
            self.log("train/nonfinite_steps", float(self.nonfinite_steps), batch_size=batch_size)
            return None
        self.log("train/loss", out.total, prog_bar=True, batch_size=batch_size)
        for name, value in out.terms.items():
            self.log(f"train/{name}", value, batch_size=batch_size)
        self.log("train/nonfinite_steps", float(self.nonfinite_steps), batch_size=batch_size)
        return out.total

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
                f"cyclecorr/system.py: the training loss was non-finite (NaN/inf) for "
                f"{self.nonfinite_in_row} steps in a row (max_nonfinite_in_row="
                f"{self.max_nonfinite_in_row}) at global step {self.global_step}. Expected a "
                "finite loss; the last good checkpoint was left intact. Lower the learning rate "
                "(model.optimizer.lr), keep gradient clipping on (trainer.gradient_clip_val), or "
                "resume with resume=true."
            )
        return False

    # ----------------------------------------------------------- validation
    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """Cycle losses plus the skip/long-cycle theta error in crop pixels."""
        feats = self.encode(batch)
        out = self.loss(self.tracker, feats.frame_feats, feats.patch_feat, batch["theta"])
        crop_size = batch["frames"].shape[-1]
        theta_gt = batch["theta"][:, None]  # (B, 1, 2, 3), broadcast over the k cycles
        err_skip = theta_error_px(out.skip_thetas, theta_gt, crop_size).mean()
        err_long = theta_error_px(out.long_thetas, theta_gt, crop_size).mean()
        metrics = {
            "val/loss": out.total,
            **{f"val/{name}": value for name, value in out.terms.items()},
            "val/theta_err_px_skip": err_skip,
            "val/theta_err_px_long": err_long,
            "val/theta_err_px": (err_skip + err_long) / 2,
        }
        self.log_dict(metrics, batch_size=batch["frames"].shape[0], sync_dist=True)
        return out.total

    # ------------------------------------------------------------ optimiser
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

    # ---------------------------------------------------- resumable counters
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the run-long counters so a resumed run keeps summing them."""
        checkpoint["cyclecorr_counters"] = {
            "nonfinite_steps": self.nonfinite_steps,
            "skipped_videos": self.skipped_videos,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the run-long counters written by ``on_save_checkpoint``."""
        counters = checkpoint.get("cyclecorr_counters", {})
        self.nonfinite_steps = int(counters.get("nonfinite_steps", 0))
        self.skipped_videos = int(counters.get("skipped_videos", 0))
