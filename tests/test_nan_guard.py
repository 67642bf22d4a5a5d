"""The NaN guard, through the real system and Trainer: injected non-finite losses skip their
steps (no optimiser step, weights untouched, counted as train/nonfinite_steps), training carries
on afterwards, and max_nonfinite_in_row of them in a row stop the run with a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from cyclecorr.utils.config import CONF_DIR, register_resolvers
from helpers.lightning import NanOnCalls


class WeightWatch(pl.Callback):
    """Records, per training batch, whether any parameter changed during the batch."""

    def __init__(self) -> None:
        self.changed: list[bool] = []
        self.before: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, idx: int) -> None:
        self.before = [p.detach().clone() for p in module.parameters()]

    def on_train_batch_end(self, trainer: Any, module: Any, out: Any, batch: Any, idx: int) -> None:
        after = list(module.parameters())
        self.changed.append(any(not torch.equal(a, b) for a, b in zip(after, self.before)))


def build(nan_calls: set[int], max_in_row: int, tmp_path: Path) -> tuple[Any, Any, pl.Trainer]:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                "debug=tiny",
                "model.freeze_encoder_steps=0",
                f"model.max_nonfinite_in_row={max_in_row}",
                "data.datamodule.train_dataset.num_videos=16",
            ],
        )
    torch.manual_seed(0)
    system = instantiate(cfg.model)
    system.loss = NanOnCalls(system.loss, nan_calls)
    datamodule = instantiate(cfg.data.datamodule)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=4,
        limit_val_batches=0,
        logger=pl.loggers.CSVLogger(tmp_path, name="", version=""),
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        callbacks=[WeightWatch()],
    )
    return system, datamodule, trainer


@pytest.mark.slow
def test_nonfinite_steps_are_skipped_and_counted(tmp_path: Path) -> None:
    system, datamodule, trainer = build({1, 2}, max_in_row=3, tmp_path=tmp_path)
    trainer.fit(system, datamodule=datamodule)
    # Lightning counts a skipped step (training_step -> None) as a step: 4 batches, 4 steps,
    # but the NaN batches 1 and 2 left every weight as it was
    assert system.loss.calls == 4 and trainer.global_step == 4
    watch = next(c for c in trainer.callbacks if isinstance(c, WeightWatch))
    assert watch.changed == [True, False, False, True]
    assert system.nonfinite_steps == 2 and system.nonfinite_in_row == 0
    assert float(trainer.callback_metrics["train/nonfinite_steps"]) == 2.0
    assert all(torch.isfinite(p).all() for p in system.parameters()), "NaN reached the weights"


@pytest.mark.slow
def test_too_many_nonfinite_in_a_row_raise(tmp_path: Path) -> None:
    system, datamodule, trainer = build({0, 1, 2, 3, 4}, max_in_row=3, tmp_path=tmp_path)
    with pytest.raises(RuntimeError, match="non-finite .* for 3 steps in a row"):
        trainer.fit(system, datamodule=datamodule)
    assert system.loss.calls == 3 and system.nonfinite_steps == 3
