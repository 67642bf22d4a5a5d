"""Propagate a first-frame mask through a user's own video (any length, any resolution).

``python -m cyclecorr.propagate video=clip.mp4 mask=first.png ckpt_path=last.ckpt [out=dir]``.
A Hydra entry point rather than argparse, so it shares the ``encoder`` and ``protocol`` config
groups (and their overrides, e.g. ``encoder=pixels protocol=crw``) with ``cyclecorr.evaluate`` and
saves its resolved config next to the outputs. Frames are decoded in small chunks through
``open_video`` and encoded one at a time; memory is bounded by the protocol's context (and the
downscaled overlay frames). A mask whose size differs from the video is resized with nearest
neighbour, with a warning. Outputs: ``<out>/%05d.png`` palette PNGs (frame 0 = the given mask)
and ``<out>/overlay.mp4``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from cyclecorr.evaluate import resolve_device
from cyclecorr.utils.config import CONF_DIR, register_resolvers

if TYPE_CHECKING:
    from cyclecorr.data.readers import VideoReader

register_resolvers()
log = logging.getLogger(__name__)


def stream_frames(reader: VideoReader, chunk: int) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 frames of a ``VideoReader``, decoding ``chunk`` at a time."""
    for start in range(0, len(reader), chunk):
        yield from reader.get_frames(list(range(start, min(start + chunk, len(reader)))))


def load_first_mask(path: str | Path, width: int, height: int) -> tuple[np.ndarray, list[int]]:
    """Read the first-frame mask and its palette, resized (nearest) to ``width`` x ``height``."""
    from PIL import Image

    from cyclecorr.eval.davis_io import read_annotation, read_palette

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
    from PIL import Image

    h, w = image.shape[:2]
    scale = min(1.0, short_side / min(h, w))
    size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def propagate(cfg: DictConfig) -> Path:
    """Run the propagation described by ``cfg``; returns the output folder."""
    from cyclecorr.data.readers import open_video
    from cyclecorr.eval.davis_io import write_annotation
    from cyclecorr.eval.video_segmentation import overlay_mask, segment_video

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / "config_resolved.yaml", resolve=True)
    device = resolve_device(cfg.device)
    reader = open_video(cfg.video, backend=cfg.backend, fps=cfg.fps)
    width, height = reader.size
    mask, palette = load_first_mask(cfg.mask, width, height)
    encoder = hydra.utils.instantiate(cfg.encoder).to(device)
    protocol = hydra.utils.instantiate(cfg.protocol)
    frames = stream_frames(reader, cfg.chunk)
    first = next(frames)
    write_annotation(out / "00000.png", mask, palette)
    overlays = [small(overlay_mask(first, mask, palette), cfg.overlay_short_side)]
    if cfg.overlay:
        source = _with_overlays(first, frames, overlays)
    else:
        source = itertools.chain([first], frames)
    masks = segment_video(encoder, source, mask, protocol, device)
    for t, pred in enumerate(tqdm(masks, total=len(reader) - 1, disable=not cfg.progress), 1):
        write_annotation(out / f"{t:05d}.png", pred, palette)
        if cfg.overlay:
            overlays[t] = small(overlay_mask(overlays[t], pred, palette), cfg.overlay_short_side)
    if cfg.overlay:
        from cyclecorr.data.video_writer import write_video

        write_video(np.stack(overlays), out / "overlay.mp4", fps=reader.fps, lossless=False)
    log.info("Wrote %d masks%s to %s", len(reader), " and overlay.mp4" if cfg.overlay else "", out)
    return out


def _with_overlays(
    first: np.ndarray, frames: Iterator[np.ndarray], overlays: list[np.ndarray]
) -> Iterator[np.ndarray]:
    """Yield the frames for propagation while keeping each one (until overlaid) in ``overlays``."""
    yield first
    for frame in frames:
        overlays.append(frame)  # replaced by its small overlay as soon as its mask exists
        yield frame


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="propagate")
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    propagate(cfg)


if __name__ == "__main__":
    main()
