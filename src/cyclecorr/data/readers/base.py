"""The contract every frame reader meets, and the small helpers the readers share.

A ``VideoReader`` gives random access to the frames of one video: ``len(reader)`` frames,
``reader.fps``, ``reader.size == (W, H)`` after the optional short-side resize, and
``reader.get_frames(indices) -> (T, H, W, 3) uint8 RGB``. Every failure raises
``VideoReadError`` naming the file. This module holds no backend; ``cyclecorr.data.readers.factory``
re-exports these names next to ``open_video``, which picks one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from cyclecorr.data.transforms import short_side_size


class VideoReadError(RuntimeError):
    """A video (or frame folder) cannot be read; the message names the file and the reason."""


@runtime_checkable
class VideoReader(Protocol):
    """Random access to the frames of one video.

    Attributes:
        path: the file (or frame folder).
        fps: frames per second (> 0).
        size: ``(W, H)`` of the returned frames (after the optional short-side resize).
    """

    path: Path

    @property
    def fps(self) -> float: ...

    @property
    def size(self) -> tuple[int, int]: ...

    def __len__(self) -> int: ...

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        """Frames ``indices`` (any order, repeats allowed) as ``(T, H, W, 3)`` uint8 RGB."""
        ...

    def close(self) -> None:
        """Release the decoder (the reader may reopen on next use)."""
        ...


def output_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """``(W, H)`` after resizing the short side to ``short_side`` (unchanged when None)."""
    if short_side is None:
        return width, height
    new_h, new_w = short_side_size(height, width, short_side)
    return new_w, new_h


def check_indices(indices: Sequence[int], num_frames: int, path: Path) -> list[int]:
    """``indices`` as ints, raising VideoReadError when one is outside ``[0, num_frames)``."""
    wanted = [int(i) for i in indices]
    bad = [i for i in wanted if not 0 <= i < num_frames]
    if bad or not wanted:
        raise VideoReadError(
            f"{__name__}: {path}: expected 1+ frame indices in [0, {num_frames}), found "
            f"{bad or 'none'}; sample indices from len(reader)."
        )
    return wanted


def require_file(path: Path) -> None:
    """Raise VideoReadError unless ``path`` is an existing, non-empty file."""
    if not path.is_file():
        raise VideoReadError(f"{__name__}: video file {path} does not exist (or is not a file).")
    if path.stat().st_size == 0:
        raise VideoReadError(f"{__name__}: video file {path} is empty (0 bytes).")
