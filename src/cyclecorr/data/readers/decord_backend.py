"""Frames through decord (x86_64 wheels only), resized inside the decoder.

``DecordReader`` meets the ``VideoReader`` contract of ``cyclecorr.data.readers.base``. Frame
``i`` is the i-th frame the decoder outputs. The resize target is computed from the stream's
native size (probed with PyAV from the header when PyAV is installed, else by decoding frame 0
with decord) and handed to decord, so ffmpeg's scaler does the resizing, as in the PyAV
reader; pixels differ slightly from the frame-folder reader, which resizes after decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cyclecorr.data.readers.base import VideoReadError, check_indices, output_size, require_file


def probe_stream_size(path: Path) -> tuple[int, int]:
    """Native ``(W, H)`` of the first video stream (PyAV's header probe, else decord's frame 0)."""
    try:
        import av
    except ImportError:  # decord alone: a PyAV-less install must still read video
        return probe_size_with_decord(path)

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"{__name__}: {path} has no video stream.")
            context = container.streams.video[0].codec_context
            width, height = int(context.width), int(context.height)
    except (av.FFmpegError, OSError, ValueError) as err:
        raise VideoReadError(f"{__name__}: cannot open {path} as a video: {err}") from err
    if width <= 0 or height <= 0:
        raise VideoReadError(f"{__name__}: {path} reports frame size {width}x{height}.")
    return width, height


def probe_size_with_decord(path: Path) -> tuple[int, int]:
    """Native ``(W, H)`` from decord's first decoded frame (slower than a header probe)."""
    import decord

    try:
        frame = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)[0]
    except Exception as err:  # decord raises DECORDError / RuntimeError / IndexError
        raise VideoReadError(f"{__name__}: decord cannot open {path}: {err}") from err
    height, width = frame.shape[:2]
    return int(width), int(height)


class DecordReader:
    """Frames through decord (x86_64 only); resizing happens inside the decoder.

    Args:
        path: the video file.
        short_side: resize the short side to this many pixels at decode time (None keeps it).
    """

    def __init__(self, path: str | Path, short_side: int | None = None) -> None:
        self.path = Path(path)
        require_file(self.path)
        self.short_side = short_side
        self._reader: Any = None
        self._size: tuple[int, int] | None = None

    def _open(self) -> Any:
        if self._reader is None:
            import decord

            width, height = output_size(*probe_stream_size(self.path), self.short_side)
            resize = {} if self.short_side is None else {"width": width, "height": height}
            try:
                reader = decord.VideoReader(
                    str(self.path), ctx=decord.cpu(0), num_threads=1, **resize
                )
            except Exception as err:  # decord raises DECORDError / RuntimeError
                raise VideoReadError(f"{__name__}: decord cannot open {self.path}: {err}") from err
            if len(reader) == 0:
                raise VideoReadError(f"{__name__}: {self.path} has no frames (decord).")
            self._reader, self._size = reader, (width, height)
        return self._reader

    @property
    def fps(self) -> float:
        fps = float(self._open().get_avg_fps())
        if not fps > 0:
            raise VideoReadError(f"{__name__}: {self.path} reports frame rate {fps} (decord).")
        return fps

    @property
    def size(self) -> tuple[int, int]:
        self._open()
        assert self._size is not None
        return self._size

    def __len__(self) -> int:
        return len(self._open())

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        reader = self._open()
        wanted = check_indices(indices, len(reader), self.path)
        try:
            batch = reader.get_batch(wanted)
        except Exception as err:  # corrupt or truncated data surfaces here
            raise VideoReadError(
                f"{__name__}: decord failed to decode frames {wanted} of {self.path}: {err}"
            ) from err
        frames = batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)
        return np.ascontiguousarray(frames, dtype=np.uint8)  # (T, H, W, 3)

    def close(self) -> None:
        """Drop the decoder (decord frees it when the object is collected)."""
        self._reader = None
