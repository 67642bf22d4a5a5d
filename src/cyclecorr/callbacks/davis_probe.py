"""Online DAVIS probe: label propagation on a few davis2017-mini sequences every N steps.

Every ``every_n_steps`` optimiser steps, global rank 0 runs
``cyclecorr.eval.tasks.davis.davis_probe`` with the current encoder (eval mode, no gradients) on
``sequences`` (default: 2 of davis2017-mini, first ``max_frames`` frames), logs the J&F mean as
``val/davis_mini_jf`` and the returned overlay image. When the DAVIS folder or a sequence is
missing the probe switches itself off with one warning instead of failing the run. Other ranks
skip it; it holds no collective, so they simply wait at the next synchronisation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn

from cyclecorr.callbacks.media import log_images, log_scalars
from cyclecorr.eval.propagation.protocols import PropagationProtocol


def missing_sequences(davis_root: str | Path, sequences: list[str]) -> list[str]:
    """Sequences without a ``JPEGImages/480p/<seq>`` and ``Annotations/480p/<seq>`` folder."""
    root = Path(davis_root)
    return [
        seq
        for seq in sequences
        if not (root / "JPEGImages" / "480p" / seq).is_dir()
        or not (root / "Annotations" / "480p" / seq).is_dir()
    ]


class DavisProbe(pl.Callback):
    """Propagate DAVIS masks with the training encoder and log ``val/davis_mini_jf``.

    Args:
        davis_root: a DAVIS-2017 layout folder (``JPEGImages/480p``, ``Annotations/480p``).
        protocol: the propagation protocol (the config composes a ``conf/protocol`` preset).
        sequences: sequence names to propagate.
        every_n_steps: optimiser steps between probes.
        max_frames: frames per sequence (None = all).
        key: metric name.
        overlay_key: media name of the overlay image.
    """

    def __init__(
        self,
        davis_root: str,
        protocol: PropagationProtocol,
        sequences: list[str] | None = None,
        every_n_steps: int = 2000,
        max_frames: int | None = 20,
        key: str = "val/davis_mini_jf",
        overlay_key: str = "val/davis_mini_overlay",
    ) -> None:
        self.davis_root = Path(davis_root)
        self.sequences = list(sequences) if sequences else ["blackswan", "car-shadow"]
        self.every_n_steps = every_n_steps
        self.protocol = protocol
        self.max_frames = max_frames
        self.key = key
        self.overlay_key = overlay_key
        self.enabled = True
        self._last_step = -1

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        missing = missing_sequences(self.davis_root, self.sequences)
        if missing:
            self.enabled = False
            rank_zero_warn(
                f"{__name__}: DAVIS probe skipped: sequences {missing} "
                f"not found under {self.davis_root} (expected JPEGImages/480p/<seq> and "
                "Annotations/480p/<seq>); set CYCLECORR_DATA or callbacks.davis_probe.davis_root."
            )

    def run_probe(self, pl_module: pl.LightningModule) -> Any:
        """Run the probe with the module's encoder in eval mode; returns the ``ProbeResult``."""
        from cyclecorr.eval.tasks.davis import davis_probe

        encoder = cast(torch.nn.Module, pl_module.encoder)
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                return davis_probe(
                    encoder,
                    self.davis_root,
                    self.sequences,
                    self.protocol,
                    max_frames=self.max_frames,
                    device=pl_module.device,
                )
        finally:
            encoder.train(was_training)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        if not self.enabled or not trainer.is_global_zero:
            return
        if step % self.every_n_steps or step == self._last_step:
            return
        self._last_step = step
        result = self.run_probe(pl_module)
        log_scalars(trainer, {self.key: float(result.jf)}, step)
        log_images(trainer, self.overlay_key, [result.overlay], step)
