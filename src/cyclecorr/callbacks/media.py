"""Send images to the run's loggers: W&B when present, PNG files in the run folder otherwise.

Visual callbacks (cycle images, probe overlays) call ``log_images`` on rank 0 only. With a
``WandbLogger`` the images go to W&B (``logger.log_image``, stored under the run's
``files/media/images/``); without one they are written as
``<trainer.default_root_dir>/media/<key>/step_<step>_<n>.png`` so a CSV-only run still keeps them.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
from PIL import Image


def wandb_loggers(trainer: pl.Trainer) -> list[object]:
    """The trainer's ``WandbLogger`` instances (none when W&B is not configured)."""
    from lightning.pytorch.loggers import WandbLogger

    return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]


def log_images(
    trainer: pl.Trainer,
    key: str,
    images: list[np.ndarray],
    step: int,
    captions: list[str] | None = None,
) -> list[Path]:
    """Log ``(H, W, 3)`` uint8 images under ``key`` at ``step``.

    Args:
        trainer: the running trainer (its loggers and ``default_root_dir`` are used).
        key: media name, e.g. ``"viz/cycle"``.
        images: ``(H, W, 3)`` uint8 RGB arrays.
        step: the global step to attach them to.
        captions: one caption per image, or None.

    Returns:
        The PNG files written (empty when the images went to W&B).
    """
    targets = wandb_loggers(trainer)
    extra = {"caption": list(captions)} if captions is not None else {}
    for logger in targets:
        logger.log_image(key=key, images=list(images), step=step, **extra)  # type: ignore[attr-defined]
    if targets:
        return []
    folder = Path(trainer.default_root_dir) / "media" / key.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(images):
        path = folder / f"step_{step:07d}_{index}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def log_scalars(trainer: pl.Trainer, metrics: dict[str, float], step: int) -> None:
    """Write scalars straight to every logger (for values computed on rank 0 only)."""
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=step)
