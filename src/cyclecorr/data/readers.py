"""Random access to the frames of a video: one interface over decord, PyAV and frame folders.

``open_video(path)`` returns a ``VideoReader``: ``len(reader)`` frames, ``reader.fps``,
``reader.size == (W, H)`` after the optional short-side resize, and
``reader.get_frames(indices) -> (T, H, W, 3) uint8 RGB``. Frame ``i`` is the i-th frame the
decoder outputs (decord's convention), not a timestamp, so all backends agree on variable frame
rate files and broken timestamps. Resizing keeps the aspect ratio and makes the short side
``short_side`` (``cyclecorr.data.transforms.short_side_size``): decord resizes inside the decoder
(ffmpeg's scaler), PyAV and frame folders decode at full size and resize with
``transforms.resize_short_side`` (bilinear, antialiased), so resized pixels differ slightly
between backends while unresized frames are identical.

Readers are lazy: constructing one only checks that the path exists; the file is opened on
first use, so a dataset opens its videos inside ``__getitem__`` (never across a fork). Every
failure (missing, not a video, no frames, corrupt data, index out of range) raises
``VideoReadError`` naming the file and what went wrong.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from cyclecorr.data.transforms import resize_short_side, short_side_size

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
BACKENDS = ("auto", "decord", "pyav")


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
            f"readers.py: {path}: expected 1+ frame indices in [0, {num_frames}), found "
            f"{bad or 'none'}; sample indices from len(reader)."
        )
    return wanted


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
            raise VideoReadError(f"readers.py: frame folder {self.path} does not exist.")
        if not fps > 0:
            raise VideoReadError(
                f"readers.py: {self.path}: a frame folder needs fps > 0, found {fps}; pass the "
                "rate the frames were extracted at."
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
                    f"readers.py: frame folder {self.path} holds no images "
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
                raise VideoReadError(f"readers.py: cannot read image {first}: {err}") from err
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
            raise VideoReadError(f"readers.py: cannot read frame image {file}: {err}") from err

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        files = self._frame_files()
        wanted = check_indices(indices, len(files), self.path)
        loaded = {i: self._load(files[i]) for i in sorted(set(wanted))}
        shapes = {image.shape for image in loaded.values()}
        if len(shapes) != 1:
            raise VideoReadError(
                f"readers.py: frame folder {self.path} mixes image sizes {sorted(shapes)}; "
                "every frame of a video must have the same size."
            )
        frames = np.stack([loaded[i] for i in wanted])  # (T, H, W, 3)
        if self.short_side is not None:
            frames = resize_short_side(frames, self.short_side)
        return frames

    def close(self) -> None:
        """Nothing to release (files are opened per frame)."""


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise VideoReadError(f"readers.py: video file {path} does not exist (or is not a file).")
    if path.stat().st_size == 0:
        raise VideoReadError(f"readers.py: video file {path} is empty (0 bytes).")


def probe_stream_size(path: Path) -> tuple[int, int]:
    """Native ``(W, H)`` of the first video stream, from the container header (PyAV)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"readers.py: {path} has no video stream.")
            context = container.streams.video[0].codec_context
            width, height = int(context.width), int(context.height)
    except (av.FFmpegError, OSError, ValueError) as err:
        raise VideoReadError(f"readers.py: cannot open {path} as a video: {err}") from err
    if width <= 0 or height <= 0:
        raise VideoReadError(f"readers.py: {path} reports frame size {width}x{height}.")
    return width, height


class DecordReader:
    """Frames through decord (x86_64 only); resizing happens inside the decoder.

    Args:
        path: the video file.
        short_side: resize the short side to this many pixels at decode time (None keeps it).
    """

    def __init__(self, path: str | Path, short_side: int | None = None) -> None:
        self.path = Path(path)
        _require_file(self.path)
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
                raise VideoReadError(f"readers.py: decord cannot open {self.path}: {err}") from err
            if len(reader) == 0:
                raise VideoReadError(f"readers.py: {self.path} has no frames (decord).")
            self._reader, self._size = reader, (width, height)
        return self._reader

    @property
    def fps(self) -> float:
        fps = float(self._open().get_avg_fps())
        if not fps > 0:
            raise VideoReadError(f"readers.py: {self.path} reports frame rate {fps} (decord).")
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
                f"readers.py: decord failed to decode frames {wanted} of {self.path}: {err}"
            ) from err
        frames = batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)
        return np.ascontiguousarray(frames, dtype=np.uint8)  # (T, H, W, 3)

    def close(self) -> None:
        """Drop the decoder (decord frees it when the object is collected)."""
        self._reader = None


class _StreamIndex(NamedTuple):
    """What one demux pass (no decoding) tells about a video stream."""

    num_frames: int
    fps: float
    width: int
    height: int
    first_pts: int
    pts_step: int  # > 0 when frame i sits exactly at first_pts + i * pts_step, else 0


def _index_stream(path: Path) -> _StreamIndex:
    """Count the frames (non-empty packets) and check whether timestamps are regular."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"readers.py: {path} has no video stream.")
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size > 0]
            rate = stream.average_rate or stream.guessed_rate
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, OSError, ValueError) as err:
        raise VideoReadError(f"readers.py: PyAV cannot read {path}: {err}") from err
    if not pts:
        raise VideoReadError(f"readers.py: {path} has no frames (PyAV found no video packets).")
    if rate is None or not float(rate) > 0:
        raise VideoReadError(f"readers.py: {path} reports no frame rate (PyAV).")
    known = np.sort(np.asarray([p for p in pts if p is not None], dtype=np.int64))  # (N,)
    first, step = 0, 0
    if len(known) == len(pts) > 1:
        diffs = np.diff(known)  # (N - 1,)
        first = int(known[0])
        step = int(diffs[0]) if diffs[0] > 0 and (diffs == diffs[0]).all() else 0
    return _StreamIndex(len(pts), float(rate), int(width), int(height), first, step)


class PyAVReader:
    """Frames through PyAV (any platform); resized after decoding when asked.

    Reads seek to the keyframe before the first wanted frame when the stream's timestamps are
    regular (frame i at ``pts0 + i * step``), else decode from the start counting frames. A
    container that announces 1-2 more frames than it decodes (a common off-by-one) repeats its
    last decoded frame for them, as decord does.

    Args:
        path: the video file.
        short_side: resize the short side to this many pixels (None keeps the size).
    """

    def __init__(self, path: str | Path, short_side: int | None = None) -> None:
        self.path = Path(path)
        _require_file(self.path)
        self.short_side = short_side
        self._index: _StreamIndex | None = None

    def _info(self) -> _StreamIndex:
        if self._index is None:
            self._index = _index_stream(self.path)
        return self._index

    @property
    def fps(self) -> float:
        return self._info().fps

    @property
    def size(self) -> tuple[int, int]:
        info = self._info()
        return output_size(info.width, info.height, self.short_side)

    def __len__(self) -> int:
        return self._info().num_frames

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        import av

        info = self._info()
        wanted = check_indices(indices, info.num_frames, self.path)
        try:
            found = self._decode_seeking(sorted(set(wanted)), info) if info.pts_step else None
            if found is None:
                found = self._decode_from_start(sorted(set(wanted)), info)
        except av.FFmpegError as err:
            raise VideoReadError(f"readers.py: PyAV failed to decode {self.path}: {err}") from err
        frames = np.stack([found[i] for i in wanted])  # (T, H, W, 3)
        if self.short_side is not None:
            frames = resize_short_side(frames, self.short_side)
        return frames

    def _decode_seeking(
        self, wanted: list[int], info: _StreamIndex
    ) -> dict[int, np.ndarray] | None:
        """Seek, then map timestamps to indices; None when a wanted frame did not show up."""
        import av

        found: dict[int, np.ndarray] = {}
        wanted_set = set(wanted)
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            container.seek(info.first_pts + wanted[0] * info.pts_step, stream=stream)
            for frame in container.decode(stream):
                if frame.pts is None or (frame.pts - info.first_pts) % info.pts_step:
                    return None
                index = (frame.pts - info.first_pts) // info.pts_step
                if index in wanted_set:
                    found[index] = frame.to_ndarray(format="rgb24")  # (H, W, 3)
                if index >= wanted[-1]:
                    break
        return found if len(found) == len(wanted) else None

    def _decode_from_start(self, wanted: list[int], info: _StreamIndex) -> dict[int, np.ndarray]:
        """Decode in output order from frame 0 up to the last wanted frame."""
        import av

        found: dict[int, np.ndarray] = {}
        wanted_set, decoded, last = set(wanted), 0, None
        with av.open(str(self.path)) as container:
            for frame in container.decode(container.streams.video[0]):
                if decoded in wanted_set:
                    found[decoded] = frame.to_ndarray(format="rgb24")  # (H, W, 3)
                last, decoded = frame, decoded + 1
                if decoded > wanted[-1]:
                    break
            missing = [i for i in wanted if i not in found]
            if missing and (last is None or decoded < info.num_frames - 2):
                raise VideoReadError(
                    f"readers.py: {self.path} announces {info.num_frames} frames but only "
                    f"{decoded} decode (truncated or corrupt); frames {missing} are missing."
                )
            if missing and last is not None:  # announced off-by-one: repeat the last frame
                found |= dict.fromkeys(missing, last.to_ndarray(format="rgb24"))
        return found

    def close(self) -> None:
        """Nothing to release (each read opens and closes its own container)."""


def decord_available() -> bool:
    """Whether decord can be imported (it has x86_64 wheels only)."""
    return importlib.util.find_spec("decord") is not None


def open_video(
    path: str | Path,
    backend: str = "auto",
    short_side: int | None = None,
    fps: float | None = None,
) -> VideoReader:
    """A lazy reader for a video file, or for a folder of frame images.

    Args:
        path: a video file (any container ffmpeg reads) or a folder of frame images.
        backend: ``"decord"``, ``"pyav"``, or ``"auto"`` (decord when importable, else PyAV).
        short_side: resize so the short side is this many pixels (None: native size).
        fps: frame rate of a frame folder (required for folders, ignored for video files).

    Returns:
        A ``VideoReader``; the file is opened on first use.

    Raises:
        VideoReadError: the path is missing or empty, or a folder is given without fps.
        ValueError: an unknown backend, or decord asked for where it is not installed.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"readers.py: backend must be one of {BACKENDS}, found {backend!r}.")
    if short_side is not None and short_side < 1:
        raise ValueError(f"readers.py: short_side must be >= 1 or None, found {short_side}.")
    if path.is_dir():
        if fps is None:
            raise VideoReadError(
                f"readers.py: {path} is a frame folder; pass fps= (its frame rate) to open it."
            )
        return FrameFolderReader(path, fps, short_side)
    if backend == "decord" and not decord_available():
        raise ValueError(
            "readers.py: backend='decord' but decord is not installed (x86_64 wheels only); "
            "use backend='pyav' or 'auto'."
        )
    if backend == "decord" or (backend == "auto" and decord_available()):
        return DecordReader(path, short_side)
    return PyAVReader(path, short_side)
