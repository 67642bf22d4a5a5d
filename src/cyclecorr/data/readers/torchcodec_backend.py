"""Frames through torchcodec (PyTorch's FFmpeg decoder), indexed exactly, resized at decode.

``TorchCodecReader`` meets the ``VideoReader`` contract of ``cyclecorr.data.readers.base``. The
decoder is opened with ``seek_mode="exact"``: one demux pass (no decoding) indexes every packet,
and frame ``i`` is the frame with the i-th smallest timestamp. That is decord's i-th decoded frame
whenever the timestamps follow display order; it is also right on variable frame rate files,
where ``"approximate"`` (positions from the header's rate and duration) is not: in approximate
mode the cinepak ``opencv_tree.avi`` announces 444 frames, holds 68, and its frames 22, 34 and 66
are not decord's. Deliberate deviations from decord: (1) a file whose packet timestamps are in
decode order (pts == dts with B-frames, e.g. ``opencv_box.mp4``) has its frames sorted by those
timestamps, so frame ``i`` can be a neighbour of decord's frame ``i``; (2) ``len`` counts the
indexed frames, not the header's count (455 vs 456 on that file), so no frame is repeated.
``fps`` is the header's average rate, as decord and PyAV report, not exact mode's content
average (2.3 fps on the 15 fps ``opencv_tree.avi``).

The resize happens inside the decoder (``torchcodec.transforms.Resize``), which is bilinear and
antialiased, torchcodec's only mode: pixels match ``transforms.resize_short_side`` (the frame
folder reader's resize) to a few hundredths of a grey level on average, and differ by about one
grey level from decord's and PyAV's bicubic ffmpeg scaler. Decoding runs on the CPU with one
ffmpeg thread (as decord's ``num_threads=1``) and returns numpy, as a ``DataLoader`` worker wants;
torchcodec can also decode on CUDA (NVDEC), which this reader does not use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cyclecorr.data.readers.base import VideoReadError, check_indices, output_size, require_file

# what torchcodec raises: RuntimeError from its C++ core, ValueError/IndexError from Python
_DECODE_ERRORS = (RuntimeError, ValueError, IndexError, OSError)


class _StreamHeader(NamedTuple):
    """What the container header (no demuxing, no decoding) says about the video stream."""

    stream_index: int
    width: int
    height: int
    fps: float | None  # the header's average rate; None when the header has none


def _read_header(path: Path) -> _StreamHeader:
    """The best video stream's index, native size and average rate, from the header only."""
    from torchcodec.decoders import VideoStreamHeaderMetadata, get_container_metadata

    try:
        container = get_container_metadata(str(path))
    except _DECODE_ERRORS as err:
        raise VideoReadError(
            f"{__name__}: torchcodec cannot open {path} as a video: {err}"
        ) from err
    index = container.best_video_stream_index
    if index is None:
        raise VideoReadError(f"{__name__}: {path} has no video stream.")
    stream = container.streams[index]
    if not isinstance(stream, VideoStreamHeaderMetadata):
        raise VideoReadError(
            f"{__name__}: {path}: stream {index} should be video, found {type(stream).__name__}."
        )
    width, height = stream.width, stream.height
    if not width or not height or width <= 0 or height <= 0:
        raise VideoReadError(
            f"{__name__}: {path} reports frame size {width}x{height} (torchcodec)."
        )
    fps = stream.average_fps_from_header
    return _StreamHeader(index, int(width), int(height), float(fps) if fps else None)


def _resize_transforms(header: _StreamHeader, short_side: int | None) -> list[Any]:
    """torchcodec's decoder-side ``Resize`` to the short side; none when the size is kept."""
    from torchcodec.transforms import Resize

    width, height = output_size(header.width, header.height, short_side)
    if (width, height) == (header.width, header.height):
        return []  # no scaling pass at all: unresized frames stay bit-exact
    return [Resize((height, width))]  # takes (H, W); bilinear, antialiased


class TorchCodecReader:
    """Frames through torchcodec (exact seek mode, CPU); resizing happens inside the decoder.

    Args:
        path: the video file.
        short_side: resize the short side to this many pixels at decode time (None keeps it).
    """

    def __init__(self, path: str | Path, short_side: int | None = None) -> None:
        self.path = Path(path)
        require_file(self.path)
        self.short_side = short_side
        self._decoder: Any = None
        self._header: _StreamHeader | None = None

    def _open(self) -> Any:
        if self._decoder is None:
            from torchcodec.decoders import VideoDecoder

            header = _read_header(self.path)
            try:
                decoder = VideoDecoder(
                    str(self.path),
                    stream_index=header.stream_index,
                    dimension_order="NHWC",
                    num_ffmpeg_threads=1,
                    device="cpu",
                    seek_mode="exact",
                    transforms=_resize_transforms(header, self.short_side),
                )
            except _DECODE_ERRORS as err:
                raise VideoReadError(
                    f"{__name__}: torchcodec cannot open {self.path}: {err}"
                ) from err
            if not decoder.metadata.num_frames:
                raise VideoReadError(f"{__name__}: {self.path} has no frames (torchcodec).")
            self._decoder, self._header = decoder, header
        return self._decoder

    @property
    def fps(self) -> float:
        decoder = self._open()
        assert self._header is not None
        fps = self._header.fps or decoder.metadata.average_fps  # header rate, as decord reports
        if fps is None or not fps > 0:
            raise VideoReadError(f"{__name__}: {self.path} reports frame rate {fps} (torchcodec).")
        return float(fps)

    @property
    def size(self) -> tuple[int, int]:
        self._open()
        assert self._header is not None
        return output_size(self._header.width, self._header.height, self.short_side)

    def __len__(self) -> int:
        return int(self._open().metadata.num_frames)

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        decoder = self._open()
        wanted = check_indices(indices, len(self), self.path)
        try:
            batch = decoder.get_frames_at(wanted)  # .data: (T, H, W, 3) uint8 tensor
        except _DECODE_ERRORS as err:  # corrupt or truncated data surfaces here
            raise VideoReadError(
                f"{__name__}: torchcodec failed to decode frames {wanted} of {self.path}: {err}"
            ) from err
        return np.ascontiguousarray(batch.data.numpy(), dtype=np.uint8)  # (T, H, W, 3)

    def close(self) -> None:
        """Drop the decoder (torchcodec frees it when the object is collected)."""
        self._decoder = None
