"""Images of the patch's cycle through the clip, logged from rank 0 at a low rate.

Every ``every_n_steps`` optimiser steps the callback takes the first ``num_clips`` clips of the
current training batch, re-runs the system's encoder and ``TimeCycleLoss`` on them in eval mode
without gradients, and draws (``cyclecorr.viz.cycle.draw_cycle``) the boxes of every tracker step
from the ``LossOutput`` thetas (direct hops, skip and long returns, ground truth) and, under
them, the patch's affinity mass over each past frame (one ``Tracker`` step per frame). Images go
to W&B when configured, else to PNG files in the run folder (``callbacks/media.py``). Nothing is
computed on other ranks, and the model's train/eval mode is restored afterwards.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor

from cyclecorr.callbacks.media import log_images
from cyclecorr.viz.cycle import draw_cycle
from cyclecorr.viz.images import to_uint8


class CycleTrace(NamedTuple):
    """Per-clip results drawn by the callback (all on CPU).

    Attributes:
        direct_thetas: ``(N, k, 2, 3)``, hop ``t -> t-i`` at index ``i-1``.
        skip_thetas: ``(N, k, 2, 3)`` skip-cycle returns into ``t``.
        long_thetas: ``(N, k, 2, 3)`` long-cycle returns into ``t``.
        heatmaps: ``(N, k, H, W)`` affinity mass of the patch over frame ``t-i`` (feature cells),
            each map summing to 1.
    """

    direct_thetas: Tensor
    skip_thetas: Tensor
    long_thetas: Tensor
    heatmaps: Tensor


@torch.no_grad()
def trace_cycle(pl_module: Any, batch: dict[str, Tensor]) -> CycleTrace:
    """Run encoder, loss and per-frame tracker steps of a ``TimeCycleSystem`` on a batch.

    Args:
        pl_module: a system with ``encode(batch)``, ``tracker`` and ``loss`` (``TimeCycleSystem``).
        batch: training-sample dict (``frames (N, k+1, 3, S, S)``, ``patch``, ``theta``).

    Returns:
        ``CycleTrace``.
    """
    feats = pl_module.encode(batch)
    out = pl_module.compute_loss(batch, feats)
    query = torch.nn.functional.normalize(feats.patch_feat, dim=1)
    n, k1, _, height, width = feats.frame_feats.shape
    maps = []
    for i in range(1, k1):
        step = pl_module.tracker(feats.frame_feats[:, k1 - 1 - i], query)
        mass = step.affinity.mean(dim=2)  # (N, H*W, h*w) -> (N, H*W), sums to 1 over H*W
        maps.append(mass.reshape(n, height, width))  # (N, H, W)
    return CycleTrace(
        out.direct_thetas.float().cpu(),
        out.skip_thetas.float().cpu(),
        out.long_thetas.float().cpu(),
        torch.stack(maps, dim=1).float().cpu(),  # (N, k, H, W)
    )


def render_cycles(batch: dict[str, Tensor], trace: CycleTrace) -> list[np.ndarray]:
    """One ``draw_cycle`` image per clip of ``batch`` (``(H', W', 3)`` uint8 each)."""
    images = []
    for b in range(trace.direct_thetas.shape[0]):
        frames = np.stack([to_uint8(f) for f in batch["frames"][b]])  # (k+1, S, S, 3)
        images.append(
            draw_cycle(
                frames,
                batch["theta"][b].cpu(),
                trace.direct_thetas[b],
                trace.skip_thetas[b],
                trace.long_thetas[b],
                trace.heatmaps[b],
            )
        )
    return images


class CycleVisualizer(pl.Callback):
    """Log cycle images every ``every_n_steps`` optimiser steps, on global rank 0.

    Args:
        every_n_steps: optimiser steps between two images (low rate: they cost a forward pass).
        num_clips: clips of the batch drawn each time.
        key: media key (``viz/cycle``).
    """

    def __init__(self, every_n_steps: int = 1000, num_clips: int = 2, key: str = "viz/cycle"):
        if every_n_steps < 1 or num_clips < 1:
            raise ValueError(
                f"{__name__}: expected every_n_steps >= 1 and num_clips >= "
                f"1, found {every_n_steps} and {num_clips}; fix callbacks.cycle_viz."
            )
        self.every_n_steps = every_n_steps
        self.num_clips = num_clips
        self.key = key
        self._last_step = -1

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        if not trainer.is_global_zero or step % self.every_n_steps or step == self._last_step:
            return
        self._last_step = step
        clips = {name: value[: self.num_clips] for name, value in batch.items()}
        was_training = pl_module.training
        pl_module.eval()
        try:
            trace = trace_cycle(pl_module, clips)
        finally:
            pl_module.train(was_training)
        log_images(trainer, self.key, render_cycles(clips, trace), step)
