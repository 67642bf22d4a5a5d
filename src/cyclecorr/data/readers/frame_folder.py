"""A folder of frame images (jpg/png/...) read as a video: one file per frame, in name order.

``FrameFolderReader`` meets the ``VideoReader`` contract of ``cyclecorr.data.readers.base``.
Folders carry no timing, so the frame rate is given. Images are decoded at full size with PIL
and resized with ``transforms.resize_short_side`` (bilinear, antialiased), as PyAV frames are.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cyclecorr.data.readers.base import VideoReadError, check_indices, output_size
from cyclecorr.data.transforms import resize_short_side

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class FrameFolderReader:
    """A folder of image files (jpg/png/...), one frame each, in name order.

    Args:
        path: the folder.
        fps: frame rate the frames were extracted at (folders carry no timing).
        short_side: resize the short side to this many pixels (None keeps the size).
    """

    def __init__(self, path: str | Path, fps: float, short_side: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise VideoReadError(f"{__name__}: frame folder {self.path} does not exist.")
        if not fps > 0:
            raise VideoReadError(
                f"{__name__}: {self.path}: a frame folder needs fps > 0, found {fps}; "
                "pass the rate the frames were extracted at."
            )
        self._fps = float(fps)
        self.short_side = short_side
        self._files: list[Path] | None = None
        self._size: tuple[int, int] | None = None

    def _frame_files(self) -> list[Path]:
        if self._files is None:
            names = sorted(n for n in os.listdir(self.path) if n.lower().endswith(IMAGE_EXTENSIONS))
            if not names:
                raise VideoReadError(
                    f"{__name__}: frame folder {self.path} holds no images "
                    f"({', '.join(IMAGE_EXTENSIONS)}); expected one file per frame."
                )
            self._files = [self.path / name for name in names]
        return self._files

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        if self._size is None:
            from PIL import Image

            first = self._frame_files()[0]
            try:
                with Image.open(first) as image:
                    width, height = image.size  # header only, no decode
            except OSError as err:
                raise VideoReadError(f"{__name__}: cannot read image {first}: {err}") from err
            self._size = output_size(width, height, self.short_side)
        return self._size

    def __len__(self) -> int:
        return len(self._frame_files())

    def _load(self, file: Path) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(file) as image:
                return np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
        except OSError as err:
            raise VideoReadError(f"{__name__}: cannot read frame image {file}: {err}") from err

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        files = self._frame_files()
        wanted = check_indices(indices, len(files), self.path)
        loaded = {i: self._load(files[i]) for i in sorted(set(wanted))}
        shapes = {image.shape for image in loaded.values()}
        if len(shapes) != 1:
            raise VideoReadError(
                f"{__name__}: frame folder {self.path} mixes image sizes {sorted(shapes)}; "
                "every frame of a video must have the same size."
            )
        frames = np.stack([loaded[i] for i in wanted])  # (T, H, W, 3)
        if self.short_side is not None:
            frames = resize_short_side(frames, self.short_side)
        return frames

    def close(self) -> None:
        """Nothing to release (files are opened per frame)."""
