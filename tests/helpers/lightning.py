"""Lightning pieces the system tests share: a quiet CPU trainer and a loss that turns NaN."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import nn


def quiet_trainer(
    max_steps: int, callbacks: list[pl.Callback] | None = None, limit_val_batches: int = 1
) -> pl.Trainer:
    """A CPU trainer without logger, checkpoints, progress bar or model summary."""
    return pl.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks or [],
        limit_val_batches=limit_val_batches,
    )


class NanOnCalls(nn.Module):
    """Wraps a loss module; makes its ``total`` NaN on the given (0-based) calls."""

    def __init__(self, inner: nn.Module, nan_calls: set[int]) -> None:
        super().__init__()
        self.inner, self.nan_calls, self.calls = inner, nan_calls, 0

    def forward(self, *args: Any) -> Any:
        out = self.inner(*args)
        call, self.calls = self.calls, self.calls + 1
        return out._replace(total=out.total * float("nan")) if call in self.nan_calls else out
