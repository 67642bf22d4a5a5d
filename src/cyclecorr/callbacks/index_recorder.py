"""Record which dataset draws each rank trained on (checks distributed sampling).

Every training batch's ``batch["index"]`` (the dataset index actually served, docs/design.md) is
appended, one integer per line, to ``<folder>/rank<global_rank>.txt``. Over one epoch of a DDP run
the union of the rank files must be the whole epoch with no index repeated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl


class IndexRecorder(pl.Callback):
    """Append every trained ``batch["index"]`` to ``<folder>/rank<r>.txt``.

    Args:
        folder: where the per-rank files go (created if missing).
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def path_for(self, rank: int) -> Path:
        """The file rank ``rank`` writes."""
        return self.folder / f"rank{rank}.txt"

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if not isinstance(batch, dict) or "index" not in batch:
            raise ValueError(
                f"{__name__}: expected a batch dict with an 'index' "
                f"tensor (B,), found {type(batch).__name__}; use a cyclecorr clip dataset."
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        indices = [int(i) for i in batch["index"].reshape(-1).tolist()]  # (B,) -> list
        with open(self.path_for(trainer.global_rank), "a") as handle:
            handle.write("".join(f"{i}\n" for i in indices))
