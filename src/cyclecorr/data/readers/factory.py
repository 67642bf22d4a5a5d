"""Random access to the frames of a video: one interface over decord, PyAV, torchcodec, folders.

``open_video(path)`` returns a ``VideoReader``: ``len(reader)`` frames, ``reader.fps``,
``reader.size == (W, H)`` after the optional short-side resize, and
``reader.get_frames(indices) -> (T, H, W, 3) uint8 RGB``. Frame ``i`` is the i-th frame the
decoder outputs (decord's convention), not a timestamp, so all backends agree on variable frame
rate files and broken timestamps; the exception is torchcodec, whose frame ``i`` has the i-th
smallest timestamp, which differs on files whose timestamps are out of display order (see
``torchcodec_backend``). Resizing keeps the aspect ratio and makes the short side ``short_side``
(``cyclecorr.data.transforms.short_side_size``): decord and PyAV resize at decode with ffmpeg's
scaler (bicubic), torchcodec at decode with its own ``Resize`` (bilinear, antialiased), frame
folders decode at full size and resize with ``transforms.resize_short_side`` (bilinear,
antialiased), so resized pixels differ slightly between backends while unresized frames are
identical.

Backends: ``"decord"`` (x86_64 wheels only), ``"pyav"`` (any platform, a required dependency),
``"torchcodec"`` (the optional ``cyclecorr[torchcodec]`` extra: PyTorch's maintained FFmpeg
decoder, exact frame index), and ``"auto"``: decord when importable, else PyAV; ``"auto"`` never
picks torchcodec.

Readers are lazy: constructing one only checks that the path exists; the file is opened on
first use, so a dataset opens its videos inside ``__getitem__`` (never across a fork). Every
failure (missing, not a video, no frames, corrupt data, index out of range) raises
``VideoReadError`` naming the file and what went wrong.

The backends live one per module (``decord_backend``, ``pyav_backend``, ``torchcodec_backend``,
``frame_folder``) and the shared contract in ``base``; this module picks one and re-exports them, so
``from cyclecorr.data.readers.factory import ...`` keeps working for every name.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cyclecorr.data.readers.base import (
    VideoReader,
    VideoReadError,
)
from cyclecorr.data.readers.decord_backend import DecordReader
from cyclecorr.data.readers.frame_folder import FrameFolderReader
from cyclecorr.data.readers.pyav_backend import PyAVReader
from cyclecorr.data.readers.torchcodec_backend import TorchCodecReader

BACKENDS = ("auto", "decord", "pyav", "torchcodec")


def decord_available() -> bool:
    """Whether decord can be imported (it has x86_64 wheels only)."""
    return importlib.util.find_spec("decord") is not None


def torchcodec_available() -> bool:
    """Whether torchcodec can be imported (optional: ``pip install cyclecorr[torchcodec]``).

    It is imported, not only looked up: torchcodec loads FFmpeg's shared libraries at import, so
    an install without a matching FFmpeg (4-9) is found but cannot decode.
    """
    try:
        import torchcodec.decoders  # noqa: F401
    except (ImportError, OSError, RuntimeError):
        return False
    return True


def open_video(
    path: str | Path,
    backend: str = "auto",
    short_side: int | None = None,
    fps: float | None = None,
) -> VideoReader:
    """A lazy reader for a video file, or for a folder of frame images.

    Args:
        path: a video file (any container ffmpeg reads) or a folder of frame images.
        backend: ``"decord"``, ``"pyav"``, ``"torchcodec"``, or ``"auto"`` (decord when
            importable, else PyAV; never torchcodec).
        short_side: resize so the short side is this many pixels (None: native size).
        fps: frame rate of a frame folder (required for folders, ignored for video files).

    Returns:
        A ``VideoReader``; the file is opened on first use.

    Raises:
        VideoReadError: the path is missing or empty, or a folder is given without fps.
        ValueError: an unknown backend, or decord or torchcodec asked for where it is not
            installed.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"{__name__}: backend must be one of {BACKENDS}, found {backend!r}.")
    if short_side is not None and short_side < 1:
        raise ValueError(f"{__name__}: short_side must be >= 1 or None, found {short_side}.")
    if path.is_dir():
        if fps is None:
            raise VideoReadError(
                f"{__name__}: {path} is a frame folder; pass fps= (its frame rate) to open it."
            )
        return FrameFolderReader(path, fps, short_side)
    if backend == "decord" and not decord_available():
        raise ValueError(
            f"{__name__}: backend='decord' but decord is not installed (x86_64 wheels only); "
            "use backend='pyav' or 'auto'."
        )
    if backend == "torchcodec":
        if not torchcodec_available():
            raise ValueError(
                f"{__name__}: backend='torchcodec' but torchcodec cannot be imported (not "
                "installed, or no FFmpeg 4-9 shared libraries for it); "
                "pip install 'cyclecorr[torchcodec]', or use backend='pyav' or 'auto'."
            )
        return TorchCodecReader(path, short_side)
    if backend == "decord" or (backend == "auto" and decord_available()):
        return DecordReader(path, short_side)
    return PyAVReader(path, short_side)
