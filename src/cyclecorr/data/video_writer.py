"""Write ``(T, H, W, 3)`` uint8 RGB frames to a video file with PyAV (H.264).

Two encodings:

- lossless (default): ``libx264rgb`` at ``crf 0`` on ``rgb24`` input. H.264 in RGB colour space
  without chroma subsampling, so decoding gives back the exact input bytes (the tests check this
  with decord and PyAV). Use it for test fixtures and generated data with ground truth.
- lossy: ``libx264`` ``yuv420p`` at ``crf 23``, what real-world videos look like. 4:2:0 needs
  even width and height; odd sizes are padded by one replicated row/column at the bottom/right
  (so the file is up to 1 pixel larger than the input), never cropped.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import numpy as np

_LOSSLESS = ("libx264rgb", "rgb24", {"crf": "0", "preset": "fast"})
_LOSSY = ("libx264", "yuv420p", {"crf": "23", "preset": "fast"})


def _check_frames(frames: np.ndarray, path: Path) -> None:
    """Raise ValueError unless ``frames`` is a non-empty ``(T, H, W, 3)`` uint8 array."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(
            f"{__name__}: expected frames (T >= 1, H, W, 3) uint8 RGB for {path}, found "
            f"shape {tuple(frames.shape)} dtype {frames.dtype}; convert with "
            "np.asarray(frames, dtype=np.uint8)."
        )


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Replicate the last row/column so height and width are even (``(T, H', W', 3)``)."""
    pad_h = frames.shape[1] % 2
    pad_w = frames.shape[2] % 2
    if pad_h == 0 and pad_w == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def write_video(
    frames: np.ndarray, path: str | Path, fps: float = 24.0, lossless: bool = True
) -> Path:
    """Encode ``frames`` as H.264 into ``path`` (container from the suffix, e.g. ``.mp4``).

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB, T >= 1.
        path: output file; parent folders are created; an existing file is replaced.
        fps: frame rate (> 0), stored as a rational (e.g. 29.97 -> 2997/100).
        lossless: bit-exact ``libx264rgb`` (True) or ``libx264 yuv420p crf 23`` (False; odd
            sizes padded to even, see the module docstring).

    Returns:
        The written path.

    Raises:
        ValueError: bad frames or fps. A failed encode removes the partial file and re-raises.
    """
    import av

    path = Path(path)
    _check_frames(frames, path)
    if not fps > 0:
        raise ValueError(f"{__name__}: fps must be > 0 for {path}, found {fps}.")
    codec, pix_fmt, options = _LOSSLESS if lossless else _LOSSY
    if not lossless:
        frames = _pad_to_even(frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(100_000))
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
            stream.pix_fmt = pix_fmt
            stream.options = dict(options)
            for image in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())  # flush delayed frames
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return path
