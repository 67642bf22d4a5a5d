"""Segmenting a user's own video: propagate a first-frame mask through any video file or folder.

Frames are decoded in small chunks through ``open_video`` and encoded one at a time; memory is
bounded by the protocol's context (and the downscaled overlay frames). A mask whose size differs
from the video is resized with nearest neighbour, with a warning. Outputs: ``<out>/%05d.png``
palette PNGs (frame 0 = the given mask) and ``<out>/overlay.mp4``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from cyclecorr.data.davis_format import read_annotation, read_palette, write_annotation
from cyclecorr.data.readers.base import VideoReader
from cyclecorr.data.readers.factory import open_video
from cyclecorr.data.video_writer import write_video
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.propagation.segmentation import segment_video
from cyclecorr.viz.overlay import overlay_mask

log = logging.getLogger(__name__)


def stream_frames(reader: VideoReader, chunk: int) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 frames of a ``VideoReader``, decoding ``chunk`` at a time."""
    for start in range(0, len(reader), chunk):
        yield from reader.get_frames(list(range(start, min(start + chunk, len(reader)))))


def load_first_mask(path: str | Path, width: int, height: int) -> tuple[np.ndarray, list[int]]:
    """Read the first-frame mask and its palette, resized (nearest) to ``width`` x ``height``."""
    mask, palette = read_annotation(path), read_palette(path)
    if mask.shape != (height, width):
        log.warning(
            "Mask %s is %dx%d but the video is %dx%d: resizing it with nearest neighbour.",
            path,
            mask.shape[1],
            mask.shape[0],
            width,
            height,
        )
        mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.NEAREST))
    return mask, palette


def small(image: np.ndarray, short_side: int) -> np.ndarray:
    """Downscale (H, W, 3) uint8 so its short side is at most ``short_side`` (even sides)."""
    h, w = image.shape[:2]
    scale = min(1.0, short_side / min(h, w))
    size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def segment_user_video(
    encoder: nn.Module,
    protocol: PropagationProtocol,
    video: str | Path,
    mask: str | Path,
    out: str | Path,
    device: torch.device | str = "cpu",
    fps: float | None = None,
    backend: str = "auto",
    chunk: int = 16,
    overlay: bool = True,
    overlay_short_side: int = 360,
    progress: bool = True,
) -> int:
    """Propagate ``mask`` through ``video``; write ``<out>/%05d.png`` and ``overlay.mp4``.

    Args:
        encoder: Frozen encoder on ``device``.
        protocol: Propagation protocol.
        video: A video file, or a folder of frames (then give ``fps``).
        mask: Palette PNG of the first frame (0 background, 1..N objects, 255 void).
        out: Output folder (created).
        device: Device for encoding and attention.
        fps: Frame rate of a frame folder (ignored for video files).
        backend: ``auto`` | ``decord`` | ``pyav``.
        chunk: Frames decoded per read.
        overlay: Also write ``overlay.mp4`` (frames downscaled to ``overlay_short_side``).
        overlay_short_side: Short side of the overlay frames (kept in memory until written).
        progress: Show a progress bar.

    Returns:
        Number of masks written (the given first one included).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reader = open_video(video, backend=backend, fps=fps)
    width, height = reader.size
    first_mask, palette = load_first_mask(mask, width, height)
    frames = stream_frames(reader, chunk)
    first = next(frames)
    write_annotation(out / "00000.png", first_mask, palette)
    overlays = [small(overlay_mask(first, first_mask, palette), overlay_short_side)]
    source = (
        _with_overlays(first, frames, overlays) if overlay else itertools.chain([first], frames)
    )
    masks = segment_video(encoder, source, first_mask, protocol, device)
    for t, pred in enumerate(tqdm(masks, total=len(reader) - 1, disable=not progress), 1):
        write_annotation(out / f"{t:05d}.png", pred, palette)
        if overlay:
            overlays[t] = small(overlay_mask(overlays[t], pred, palette), overlay_short_side)
    if overlay:
        write_video(np.stack(overlays), out / "overlay.mp4", fps=reader.fps, lossless=False)
    log.info("Wrote %d masks%s to %s", len(reader), " and overlay.mp4" if overlay else "", out)
    return len(reader)


def _with_overlays(
    first: np.ndarray, frames: Iterator[np.ndarray], overlays: list[np.ndarray]
) -> Iterator[np.ndarray]:
    """Yield the frames for propagation while keeping each one (until overlaid) in ``overlays``."""
    yield first
    for frame in frames:
        overlays.append(frame)  # replaced by its small overlay as soon as its mask exists
        yield frame
