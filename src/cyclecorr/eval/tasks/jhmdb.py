"""JHMDB keypoint propagation task: PCK@alpha over the test videos of a split.

Reads each video's frames and joints (``cyclecorr.eval.datasets.jhmdb``), propagates the first
frame's joints (``cyclecorr.eval.propagation.keypoints``) and accumulates PCK
(``cyclecorr.eval.metrics.pck``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from tqdm import tqdm

from cyclecorr.eval.datasets.frames import read_rgb_frames
from cyclecorr.eval.datasets.jhmdb import load_jhmdb
from cyclecorr.eval.metrics.pck import PCKAccumulator
from cyclecorr.eval.propagation.keypoints import propagate_keypoints
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.tasks.context import EvalContext, TaskResult


def run_jhmdb(
    encoder: nn.Module,
    root: str | Path,
    protocol: PropagationProtocol,
    device: torch.device | str = "cpu",
    split: int = 1,
    sequences: list[str] | None = None,
    max_frames: int | None = None,
    sigma: float = 0.5,
    readout: Literal["argmax", "soft_argmax"] = "argmax",
    alphas: Sequence[float] = (0.1, 0.2),
    progress: bool = True,
) -> dict[str, Any]:
    """PCK@alpha of keypoint propagation over the JHMDB test videos of ``split``.

    Returns:
        ``{"PCK@0.1": ..., "PCK@0.2": ..., "num_videos": n}`` (fractions in [0, 1]).
    """
    videos = [v for v in load_jhmdb(root, split, "test") if not sequences or v.name in sequences]
    acc = PCKAccumulator(15, alphas)
    for video in tqdm(videos, desc="propagate JHMDB", disable=not progress):
        frames = video.frames[:max_frames] if max_frames else video.frames
        pred = propagate_keypoints(
            encoder,
            read_rgb_frames(frames),
            video.joints[0],
            video.visible[0],
            protocol,
            device,
            sigma,
            readout,
        )
        acc.update(pred, video.joints[: len(frames)], video.visible[: len(frames)])
    return {**{f"PCK@{a}": acc.result(a).mean for a in alphas}, "num_videos": len(videos)}


def jhmdb_task(
    ctx: EvalContext,
    root: str | Path,
    split: int = 1,
    sequences: list[str] | None = None,
    max_frames: int | None = None,
    sigma: float = 0.5,
    readout: Literal["argmax", "soft_argmax"] = "argmax",
    alphas: Sequence[float] = (0.1, 0.2),
) -> TaskResult:
    """``eval=jhmdb``: ``run_jhmdb`` with the context's encoder and protocol."""
    metrics = run_jhmdb(
        ctx.encoder(), root, ctx.protocol, ctx.device, split, sequences, max_frames, sigma,
        readout, list(alphas), ctx.progress,
    )  # fmt: skip
    return TaskResult(metrics)
