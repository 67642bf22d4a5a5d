"""One video -> a folder of JPEG frames at a fixed frame rate and short side (the release's VLOG).

The release trained on frames extracted by ffmpeg (``preprocess/extract_jpegs_256.py``:
``-vf fps=12 -q:v 1 <dir>/%06d.jpg`` on videos scaled to 256 px high). Here, in one decode pass
with PyAV:

- resampling, nearest frame in time: output frame ``j`` (time ``j / target_fps``) is source frame
  ``round_half_up(j * fps / target_fps)``, for every ``j`` whose source frame exists; a source
  frame is the ``i``-th frame the decoder outputs at time ``i / fps`` (the readers' convention,
  ``cyclecorr.data.readers.factory``). Slower videos repeat frames, as ffmpeg's ``fps`` filter;
- resizing at decode (ffmpeg's scaler, bicubic like ffmpeg's ``scale``) to short side
  ``short_side`` (``readers.base.output_size``: aspect kept, long side rounded), only for the
  frames kept;
- names ``000001.jpg, 000002.jpg, ...`` (1-based ``%06d``, as the release's), which
  ``FrameFolderReader`` reads in name order, so file ``n`` is frame index ``n - 1``.

The folder is written as ``<folder>.partial`` and renamed into place once complete, so a killed
export never leaves a folder that looks finished. Deliberate deviations: the short side, not the
height, is scaled (portrait videos too), and JPEGs are written by Pillow at ``quality`` (default
95) rather than ffmpeg's ``-q:v 1``.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from cyclecorr.data.readers.base import VideoReadError, output_size

PARTIAL_SUFFIX = ".partial"
FRAME_NAME = "{:06d}.jpg"  # 1-based, the release's VLOG names


class ExportSettings(NamedTuple):
    """What the frames look like.

    Attributes:
        fps: output frame rate (release: 12).
        short_side: output short side in pixels (release: 256).
        quality: JPEG quality, 1..95 (Pillow's scale).
    """

    fps: float = 12.0
    short_side: int = 256
    quality: int = 95


def check_settings(settings: ExportSettings) -> None:
    """Raise ValueError on a rate, size or quality that cannot be exported."""
    if not settings.fps > 0 or settings.short_side < 1 or not 1 <= settings.quality <= 95:
        raise ValueError(
            f"{__name__}: expected fps > 0, short_side >= 1 and 1 <= quality <= 95, found "
            f"{settings}; fix --fps, --short-side or --quality."
        )


def source_index(j: int, fps: float, target_fps: float) -> int:
    """Source frame of output frame ``j``: the one nearest in time, halves rounded up."""
    return math.floor(j * fps / target_fps + 0.5)


def resample_indices(num_frames: int, fps: float, target_fps: float) -> list[int]:
    """Source frame of every output frame of a ``num_frames``-frame video (``resample`` rule).

    E.g. 25 fps -> 12 fps: ``[0, 2, 4, 6, 8, 10, 13, 15, ...]``.
    """
    indices, j = [], 0
    while (index := source_index(j, fps, target_fps)) < num_frames:
        indices.append(index)
        j += 1
    return indices


def _kept_frames(container: Any, fps: float, target_fps: float) -> Iterator[tuple[int, Any]]:
    """``(output number, decoded frame)`` for every output frame, in one decode pass."""
    stream = container.streams.video[0]
    j = 0
    for i, frame in enumerate(container.decode(stream)):
        while source_index(j, fps, target_fps) == i:  # several when upsampling
            yield j, frame
            j += 1


def _stream_rate(container: Any, path: Path) -> float:
    """The first video stream's frame rate (average, else guessed), or VideoReadError."""
    if not container.streams.video:
        raise VideoReadError(f"{__name__}: {path} has no video stream.")
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate
    if rate is None or not float(rate) > 0:
        raise VideoReadError(f"{__name__}: {path} reports no frame rate.")
    return float(rate)


def write_frames(video: Path, folder: Path, settings: ExportSettings) -> int:
    """Decode ``video`` and write its resampled, resized frames into ``folder`` (must exist).

    Returns:
        The number of JPEGs written.

    Raises:
        VideoReadError: the file cannot be opened or decoded, or yields no frame.
    """
    import av

    written = 0
    try:
        with av.open(str(video)) as container:
            fps = _stream_rate(container, video)
            context = container.streams.video[0].codec_context
            width, height = output_size(context.width, context.height, settings.short_side)
            for j, frame in _kept_frames(container, fps, settings.fps):
                image = frame.to_image(width=width, height=height, interpolation="BICUBIC")
                image.save(folder / FRAME_NAME.format(j + 1), quality=settings.quality)
                written += 1
    except (av.FFmpegError, OSError, ValueError) as err:
        raise VideoReadError(f"{__name__}: cannot decode {video}: {err}") from err
    if written == 0:
        raise VideoReadError(f"{__name__}: {video} decoded no frames.")
    return written


def export_video(video: str | Path, folder: str | Path, settings: ExportSettings) -> int:
    """Write ``video``'s frames to ``folder`` atomically (via ``<folder>.partial``).

    Args:
        video: any file ffmpeg decodes.
        folder: the finished folder; must not exist yet. A leftover ``<folder>.partial`` from a
            killed run is removed first.
        settings: rate, size and JPEG quality.

    Returns:
        The number of frames written.

    Raises:
        VideoReadError: unreadable video (the partial folder is removed).
        FileExistsError: ``folder`` exists already (a finished export).
    """
    check_settings(settings)
    video, folder = Path(video), Path(folder)
    if folder.exists():
        raise FileExistsError(
            f"{__name__}: {folder} exists (a finished export); delete it to export again."
        )
    partial = folder.with_name(folder.name + PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        count = write_frames(video, partial, settings)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.replace(partial, folder)  # atomic: the folder appears complete or not at all
    return count
