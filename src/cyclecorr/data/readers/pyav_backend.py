"""Frames through PyAV (any platform), indexed by decode order, resized at decode.

``PyAVReader`` meets the ``VideoReader`` contract of ``cyclecorr.data.readers.base``. One demux
pass (no decoding) counts the frames and checks whether timestamps are regular (frame ``i`` at
``pts0 + i * step``); reads then seek to the keyframe before the first wanted frame, or decode
from the start counting frames when timestamps are irregular, so frame ``i`` is the i-th decoded
frame as in decord. Deliberate deviation from plain PyAV: a container that announces 1-2 more
frames than it decodes repeats its last frame for them, matching decord.

A clip is one decode pass, and only what it needs is paid for: on the seeking path a packet that
holds no wanted frame is decoded with ``skip_frame="NONREF"``, so non-reference frames (most
B-frames), which no other frame is predicted from, are dropped without being decoded; only the
wanted frames are converted to RGB, by ffmpeg's scaler, resized to the short side in the same
call (bicubic, as decord's ``scale`` filter).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cyclecorr.data.readers.base import VideoReadError, check_indices, output_size, require_file


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
                raise VideoReadError(f"{__name__}: {path} has no video stream.")
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size > 0]
            rate = stream.average_rate or stream.guessed_rate
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, OSError, ValueError) as err:
        raise VideoReadError(f"{__name__}: PyAV cannot read {path}: {err}") from err
    if not pts:
        raise VideoReadError(f"{__name__}: {path} has no frames (PyAV found no video packets).")
    if rate is None or not float(rate) > 0:
        raise VideoReadError(f"{__name__}: {path} reports no frame rate (PyAV).")
    known = np.sort(np.asarray([p for p in pts if p is not None], dtype=np.int64))  # (N,)
    first, step = 0, 0
    if len(known) == len(pts) > 1:
        diffs = np.diff(known)  # (N - 1,)
        first = int(known[0])
        step = int(diffs[0]) if diffs[0] > 0 and (diffs == diffs[0]).all() else 0
    return _StreamIndex(len(pts), float(rate), int(width), int(height), first, step)


class PyAVReader:
    """Frames through PyAV (any platform); resized at decode when asked.

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
        require_file(self.path)
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
            raise VideoReadError(f"{__name__}: PyAV failed to decode {self.path}: {err}") from err
        return np.stack([found[i] for i in wanted])  # (T, H, W, 3)

    def _to_rgb(self, frame: Any) -> np.ndarray:
        """One decoded frame as ``(H, W, 3)`` uint8 RGB at the output size (one swscale call)."""
        if self.short_side is None:
            return frame.to_ndarray(format="rgb24")
        width, height = self.size
        return frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="BICUBIC")

    def _decode_seeking(
        self, wanted: list[int], info: _StreamIndex
    ) -> dict[int, np.ndarray] | None:
        """Seek, then map timestamps to indices; None when a wanted frame did not show up."""
        import av

        found: dict[int, np.ndarray] = {}
        wanted_pts = {info.first_pts + i * info.pts_step for i in wanted}
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            context = stream.codec_context
            container.seek(info.first_pts + wanted[0] * info.pts_step, stream=stream)
            for packet in container.demux(stream):
                # a non-reference frame nobody wants is needed by no other frame: not decoded
                unwanted = packet.pts is not None and packet.pts not in wanted_pts
                context.skip_frame = "NONREF" if unwanted else "DEFAULT"
                for frame in context.decode(packet):
                    if frame.pts is None or (frame.pts - info.first_pts) % info.pts_step:
                        return None
                    index = (frame.pts - info.first_pts) // info.pts_step
                    if frame.pts in wanted_pts:
                        found[index] = self._to_rgb(frame)  # (H, W, 3)
                    if index >= wanted[-1]:
                        return found if len(found) == len(wanted) else None
        return found if len(found) == len(wanted) else None

    def _decode_from_start(self, wanted: list[int], info: _StreamIndex) -> dict[int, np.ndarray]:
        """Decode in output order from frame 0 up to the last wanted frame."""
        import av

        found: dict[int, np.ndarray] = {}
        wanted_set, decoded, last = set(wanted), 0, None
        with av.open(str(self.path)) as container:
            for frame in container.decode(container.streams.video[0]):
                if decoded in wanted_set:
                    found[decoded] = self._to_rgb(frame)  # (H, W, 3)
                last, decoded = frame, decoded + 1
                if decoded > wanted[-1]:
                    break
            missing = [i for i in wanted if i not in found]
            if missing and (last is None or decoded < info.num_frames - 2):
                raise VideoReadError(
                    f"{__name__}: {self.path} announces {info.num_frames} frames but only "
                    f"{decoded} decode (truncated or corrupt); frames {missing} are missing."
                )
            if missing and last is not None:  # announced off-by-one: repeat the last frame
                found |= dict.fromkeys(missing, self._to_rgb(last))
        return found

    def close(self) -> None:
        """Nothing to release (each read opens and closes its own container)."""
