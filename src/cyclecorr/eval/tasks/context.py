"""What every evaluation task receives from the entry point, besides its dataset settings.

A task is a plain function ``task(ctx, **settings) -> metrics`` (its config is a ``_target_``
partial under ``conf/eval/``). The encoder is built on demand, so a task that only scores
existing predictions never builds (or names) one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from cyclecorr.eval.propagation.protocols import PropagationProtocol


class EvalContext(NamedTuple):
    """Run-time inputs of an evaluation task.

    Attributes:
        encoder: Builds the frozen encoder (ImageNet-normalised ``(N, 3, H, W)`` ->
            ``(N, C, H/8, W/8)``) on ``device``.
        protocol: The propagation protocol.
        out_dir: The run folder (predictions, CSVs and ``metrics.json`` go there).
        device: Device for encoding and attention.
        progress: Show progress bars.
    """

    encoder: Callable[[], nn.Module]
    protocol: PropagationProtocol
    out_dir: Path
    device: torch.device
    progress: bool = True


class TaskResult(NamedTuple):
    """What a task measured.

    Attributes:
        metrics: Global numbers under their official names (``"J&F-Mean"``, ``"PCK@0.1"``,
            ``"mIoU"`` ...), plus counts.
        used_model: False when the task only scored existing predictions (no encoder, no
            protocol was used).
    """

    metrics: dict[str, Any]
    used_model: bool = True
