"""Training throughput: clips per second and the fraction of time spent waiting for data.

For each training step the wall time splits into ``wait`` (from the end of the previous step to
the start of this one: the loader's ``next()``, i.e. decoding, augmentation, collation, host to
device copy) and ``compute`` (``on_train_batch_start`` to ``on_train_batch_end``: forward,
backward, optimiser step). Over a window of ``window`` steps the callback logs

    perf/clips_per_s     = world_size * sum(local batch sizes) / sum(wait + compute)
    perf/data_wait_frac  = sum(wait) / sum(wait + compute)        in [0, 1]

A data-wait fraction near 1 means the loader is the bottleneck (raise ``data.num_workers``).
Steps right after validation are not measured (their gap is validation, not data loading).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch


def local_batch_size(batch: Any) -> int:
    """Clips in a batch: the leading size of ``batch["frames"]`` or of the first tensor found.

    Raises:
        ValueError: no tensor in the batch to read a size from.
    """
    if isinstance(batch, dict):
        if "frames" in batch:
            return int(batch["frames"].shape[0])
        values = list(batch.values())
    elif isinstance(batch, list | tuple):
        values = list(batch)
    else:
        values = [batch]
    for value in values:
        if isinstance(value, torch.Tensor) and value.ndim > 0:
            return int(value.shape[0])
    raise ValueError(
        f"{__name__}: expected a batch dict with a 'frames' tensor "
        f"(B, T, 3, S, S) or some tensor, found {type(batch).__name__}; make the loader yield "
        "tensors or remove the throughput callback."
    )


class ThroughputMonitor(pl.Callback):
    """Log ``perf/clips_per_s`` and ``perf/data_wait_frac`` every ``window`` training steps.

    Args:
        window: steps per measurement window (and per log call).
        clock: seconds as a float; injectable for tests (default ``time.perf_counter``).
    """

    def __init__(self, window: int = 20, clock: Callable[[], float] | None = None) -> None:
        if window < 1:
            raise ValueError(
                f"{__name__}: window must be >= 1, got {window}; set "
                "callbacks.throughput.window to a positive number of steps."
            )
        self.window = window
        self.clock = clock or time.perf_counter
        self._last_end: float | None = None
        self._start = 0.0
        self._wait = 0.0
        self._total = 0.0
        self._clips = 0
        self._steps = 0

    def _reset_window(self) -> None:
        self._wait, self._total, self._clips, self._steps = 0.0, 0.0, 0, 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_end = None
        self._reset_window()

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._start = self.clock()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        end = self.clock()
        if self._last_end is not None:
            wait = max(self._start - self._last_end, 0.0)
            self._wait += wait
            self._total += wait + (end - self._start)
            self._clips += local_batch_size(batch) * trainer.world_size
            self._steps += 1
        self._last_end = end
        if self._steps >= self.window and self._total > 0:
            pl_module.log("perf/clips_per_s", self._clips / self._total, on_step=True)
            pl_module.log("perf/data_wait_frac", self._wait / self._total, on_step=True)
            self._reset_window()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_end = None
