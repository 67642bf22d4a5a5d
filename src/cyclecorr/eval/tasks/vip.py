"""Human-part propagation (VIP): propagate the first annotated frame's 20-class part map.

The first annotated frame of each video gives the labels (255 ignore counts as background for
propagation); every later frame is predicted with ``segment_video`` and the frames that have an
annotation are added to one 20-class confusion matrix over the whole split (mIoU,
``cyclecorr.eval.metrics.miou``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from cyclecorr.eval.datasets.frames import read_rgb_frames
from cyclecorr.eval.datasets.vip import load_vip, read_vip_labels
from cyclecorr.eval.metrics.miou import ConfusionMatrix
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.propagation.segmentation import segment_video
from cyclecorr.eval.tasks.context import EvalContext, TaskResult


def run_vip(
    encoder: nn.Module,
    root: str | Path,
    protocol: PropagationProtocol,
    device: torch.device | str = "cpu",
    split: str = "val",
    sequences: list[str] | None = None,
    max_frames: int | None = None,
    num_classes: int = 20,
    progress: bool = True,
) -> dict[str, Any]:
    """mIoU of part propagation over the VIP videos of ``split``.

    Returns:
        ``{"mIoU": ..., "per_class_iou": [...], "num_videos": n}`` (fractions in [0, 1]).
    """
    videos = [v for v in load_vip(root, split) if not sequences or v.name in sequences]
    confusion = ConfusionMatrix(num_classes, ignore_index=255)
    for video in tqdm(videos, desc="propagate VIP", disable=not progress):
        start = video.annotated[0]
        end = len(video.frames) if max_frames is None else start + max_frames
        frames, annotations = video.frames[start:end], video.annotations[start:end]
        first = read_vip_labels(annotations[0])  # type: ignore[arg-type]
        masks = segment_video(encoder, read_rgb_frames(frames), first, protocol, device)
        for path, mask in zip(annotations[1:], masks):
            if path is not None:
                confusion.update(read_vip_labels(path), mask)
    result = confusion.miou()
    return {
        "mIoU": result.miou,
        "per_class_iou": [None if v != v else float(v) for v in result.per_class],
        "num_videos": len(videos),
    }


def vip_task(
    ctx: EvalContext,
    root: str | Path,
    split: str = "val",
    sequences: list[str] | None = None,
    max_frames: int | None = None,
    num_classes: int = 20,
) -> TaskResult:
    """``eval=vip``: ``run_vip`` with the context's encoder and protocol."""
    metrics = run_vip(
        ctx.encoder(), root, ctx.protocol, ctx.device, split, sequences, max_frames, num_classes,
        ctx.progress,
    )  # fmt: skip
    return TaskResult(metrics)
