"""Crash-safe checkpoint writes: temp file in the same folder, fsync, atomic rename.

Lightning's default ``TorchCheckpointIO`` serialises into memory and then writes the target file
in place, so a ``kill -9`` (or a node preemption, or a full disk) during the write leaves a
truncated ``last.ckpt`` and the next ``resume=true`` fails to load it. ``AtomicCheckpointIO``
writes to ``.<name>.tmp-<pid>`` beside the target, flushes and ``fsync``s it, then
``os.replace``s it over the target (atomic on POSIX within one file system) and fsyncs the folder
so the rename itself survives a power loss. At every instant the target path holds either the
complete old checkpoint or the complete new one. Remote (fsspec) paths fall back to Lightning's
own writer, which has no atomic rename to offer.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol

TMP_MARKER = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entry table so a rename inside it is durable (no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically (temp file + fsync + ``os.replace``).

    Args:
        obj: anything ``torch.save`` accepts (a Lightning checkpoint dict).
        path: the local target file; its folder is created if missing.

    Returns:
        The target path.

    Raises:
        Whatever ``torch.save`` or the file system raises; the temp file is removed first and the
        previous content of ``path`` (if any) is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}{TMP_MARKER}{os.getpid()}"
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)
    return target


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temp files left by writers killed mid-write (``.<name>.tmp-<pid>``).

    Args:
        folder: a checkpoint folder; a missing folder is fine.

    Returns:
        The removed paths.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    stale = [p for p in root.iterdir() if p.name.startswith(".") and TMP_MARKER in p.name]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stale


class AtomicCheckpointIO(TorchCheckpointIO):
    """A Lightning ``CheckpointIO`` whose saves are atomic on local file systems.

    Use it through the Trainer's ``plugins`` (``conf/trainer/default.yaml``). Loading and removal
    are Lightning's. Before each save, temp files left by a killed writer in the same folder are
    cleared so they never pile up.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` atomically.

        Args:
            checkpoint: the Lightning checkpoint dict (model, optimizer, loops, callbacks).
            path: the target ``.ckpt`` path (local path or fsspec URL).
            storage_options: unsupported, must be ``None`` (as in ``TorchCheckpointIO``).

        Raises:
            TypeError: ``storage_options`` was given.
        """
        if storage_options is not None:
            raise TypeError(
                f"{__name__}: AtomicCheckpointIO.save_checkpoint expected "
                f"storage_options=None but got {storage_options!r}; drop the argument or use a "
                "CheckpointIO that supports storage options."
            )
        if not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path)
            return
        remove_stale_temp_files(Path(path).parent)
        atomic_torch_save(checkpoint, path)
