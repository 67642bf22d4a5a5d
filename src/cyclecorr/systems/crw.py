"""The contrastive random walk (CRW) LightningModule: encoder, node head, walk loss, logging.

Training (Jabri, Owens, Efros, NeurIPS 2020; ajabri/videowalk): every frame of a clip is a grid
of patches (``cyclecorr.data.crw.sample_builder``); the encoder embeds each patch, ``NodeHead``
pools, projects and L2-normalises it into a node, and ``CRWLoss`` scores the palindrome walks
through the clip's transition matrices. The maths lives in those plain modules; the run-time policy
(warm-up, NaN guard, counters, optimiser) is ``CorrespondenceSystem``'s, shared with TimeCycle.

Edge dropout draws from a ``torch.Generator`` seeded per optimiser step from
``(dropout_seed, global rank, global step)``, so a resumed run drops the same edges as an
uninterrupted one and ranks draw different masks; validation runs the loss in eval mode (no
dropout). Logged: ``{train,val}/loss``, ``/xent_walk{k}`` and ``/acc_walk{k}`` per walk of ``k``
steps out, and ``/acc`` (walk accuracy averaged over the walks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cyclecorr.losses.crw import CRWLossOutput
from cyclecorr.systems.base import Batch, CorrespondenceSystem


class CRWSystem(CorrespondenceSystem):
    """CRW training system.

    Args:
        encoder: ``Encoder`` mapping ``(M, 3, P, P)`` patches to ``(M, C, P/8, P/8)``; must
            have ``out_channels`` (C).
        head: a partial taking C and returning the node head (``NodeHead``), ``(M, C, h, w)
            -> (M, D)`` L2-normalised.
        loss: ``CRWLoss``; ``loss(nodes (B, T, N, D), generator) -> CRWLossOutput``.
        optimizer: a partial taking ``params`` and returning a ``torch.optim.Optimizer``.
        scheduler: optional partial taking ``optimizer`` and returning an LR scheduler.
        freeze_encoder_steps: optimiser steps with the encoder frozen (0 = never).
        max_nonfinite_in_row: consecutive non-finite losses that abort the run.
        dropout_seed: seed of the edge-dropout masks (0 is valid).
        compile: ``torch.compile`` the encoder and the node head in place (same values up to
            float rounding).
    """

    def __init__(
        self,
        encoder: nn.Module,
        head: Callable[[int], nn.Module],
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        freeze_encoder_steps: int = 0,
        max_nonfinite_in_row: int = 10,
        dropout_seed: int = 0,
        compile: bool = False,
    ) -> None:
        super().__init__(
            encoder, optimizer, scheduler, freeze_encoder_steps, max_nonfinite_in_row, compile
        )
        # the partials stay out of the checkpoint so it loads with torch.load(weights_only=True)
        self.save_hyperparameters(ignore=["encoder", "head", "loss", "optimizer", "scheduler"])
        channels = getattr(encoder, "out_channels", None)
        if not isinstance(channels, int):
            raise TypeError(
                f"{__name__}: the encoder must expose its feature channels as an int "
                f"`out_channels` (found {channels!r} on {type(encoder).__name__}); use "
                "cyclecorr.models.encoder.Encoder."
            )
        self.head = self.maybe_compile(head(channels))
        self.loss = loss
        self.dropout_seed = dropout_seed

    # ----------------------------------------------------------------- stages
    def embed_nodes(self, patches: Tensor) -> Tensor:
        """Node embeddings of every patch (BatchNorm pools over batch x time x patches).

        Args:
            patches: ``(B, T, N, 3, P, P)`` normalised patches.

        Returns:
            ``(B, T, N, D)`` L2-normalised nodes.
        """
        if patches.ndim != 6:
            raise ValueError(
                f"{__name__}: expected batch['patches'] (B, T, N, 3, P, P), found "
                f"{tuple(patches.shape)}; build samples with CRWSampleBuilder."
            )
        b, t, n = patches.shape[:3]
        maps = self.encoder(patches.flatten(0, 2))  # (B*T*N, C, P/8, P/8)
        return self.head(maps).unflatten(0, (b, t, n))  # (B*T*N, D) -> (B, T, N, D)

    def dropout_generator(self) -> torch.Generator:
        """The edge-dropout generator of this optimiser step on this rank."""
        seeds = np.random.SeedSequence([self.dropout_seed, self.global_rank, self.global_step])
        seed = int(seeds.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        return torch.Generator(device=self.device).manual_seed(seed)

    @staticmethod
    def walk_metrics(out: CRWLossOutput, stage: str) -> dict[str, Tensor]:
        """Per-walk cross-entropy and accuracy, and the mean accuracy, named for logging."""
        metrics = {f"{stage}/acc": out.accs.mean()}
        for steps, xent, acc in zip(out.steps.tolist(), out.xents, out.accs):
            metrics[f"{stage}/xent_walk{steps}"] = xent
            metrics[f"{stage}/acc_walk{steps}"] = acc
        return metrics

    def compute_loss(self, batch: Batch) -> CRWLossOutput:
        """Embed the patches and score the walks (edge dropout in training mode only)."""
        generator = self.dropout_generator() if self.training else None
        return self.loss(self.embed_nodes(batch["patches"]), generator)

    def batch_size(self, batch: Batch) -> int:
        """Clips in ``batch``."""
        return int(batch["patches"].shape[0])

    def train_metrics(self, out: CRWLossOutput) -> dict[str, Tensor]:
        """Per-walk cross-entropy and accuracy, and the mean accuracy."""
        return self.walk_metrics(out, "train")

    # ----------------------------------------------------------- validation
    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """Walk loss and accuracy on held-out clips (eval mode: no edge dropout)."""
        out = self.compute_loss(batch)
        metrics = {"val/loss": out.total, **self.walk_metrics(out, "val")}
        self.log_dict(metrics, batch_size=self.batch_size(batch), sync_dist=True)
        return out.total
