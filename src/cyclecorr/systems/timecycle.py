"""The TimeCycle LightningModule: wires encoder, tracker, cycle losses, optimiser and logging.

Training (METHOD.md sections 3-4): the encoder ``phi`` embeds the ``k`` past frames, the target
frame and the query patch; ``TimeCycleLoss`` tracks the patch through the skip and long cycles
with the shared ``Tracker`` and returns ``sum_i w_sim L_sim^i + w_skip L_skip^i + w_long L_long^i``.
The maths lives in those plain modules; the run-time policy (frozen-encoder warm-up, NaN guard,
run-long counters, optimiser) is ``cyclecorr.systems.base.CorrespondenceSystem``'s, shared with
the other objectives. Validation reports the cycle losses and the theta error in crop pixels
(``cyclecorr.ops.geometry.theta_error_px``) of the skip and long cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from cyclecorr.losses.timecycle import LossOutput
from cyclecorr.ops.geometry import theta_error_px
from cyclecorr.systems.base import Batch, CorrespondenceSystem


class EncodedBatch(NamedTuple):
    """Raw (not normalised) encoder features of one batch.

    Attributes:
        frame_feats: ``(B, k+1, C, H, W)``, past frames oldest first, then the target frame.
        patch_feat: ``(B, C, h, w)`` features of the query patch.
    """

    frame_feats: Tensor
    patch_feat: Tensor


class TimeCycleSystem(CorrespondenceSystem):
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
        compile: ``torch.compile`` the encoder and the tracker in place (same values up to float
            rounding).
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
        compile: bool = False,
    ) -> None:
        super().__init__(
            encoder, optimizer, scheduler, freeze_encoder_steps, max_nonfinite_in_row, compile
        )
        # The partials stay out of the checkpoint so it loads with torch.load(weights_only=True);
        # train.py logs the whole resolved config instead.
        self.save_hyperparameters(ignore=["encoder", "tracker", "loss", "optimizer", "scheduler"])
        self.tracker = self.maybe_compile(tracker)
        self.loss = loss

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

    def compute_loss(self, batch: Batch, feats: EncodedBatch | None = None) -> LossOutput:
        """Run every cycle on the batch: ``LossOutput(total, terms, thetas...)``.

        Args:
            batch: the data module's batch.
            feats: the batch's features when the caller already has them (``encode(batch)``).
        """
        feats = self.encode(batch) if feats is None else feats
        return self.loss(self.tracker, feats.frame_feats, feats.patch_feat, batch["theta"])

    def batch_size(self, batch: Batch) -> int:
        """Clips in ``batch``."""
        return int(batch["frames"].shape[0])

    def train_metrics(self, out: LossOutput) -> dict[str, Tensor]:
        """The unweighted loss terms, ``train/sim/1`` ... ``train/long``."""
        return {f"train/{name}": value for name, value in out.terms.items()}

    # ----------------------------------------------------------- validation
    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """Cycle losses plus the skip/long-cycle theta error in crop pixels."""
        out = self.compute_loss(batch)
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
        self.log_dict(metrics, batch_size=self.batch_size(batch), sync_dist=True)
        return out.total
