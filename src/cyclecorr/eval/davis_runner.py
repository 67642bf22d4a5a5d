"""Run label propagation over a DAVIS-2017 root and write the predictions as palette PNGs.

For each sequence the first annotation is the input; every later frame is predicted with
``segment_video`` (frames decoded one at a time) and written to ``<out>/<seq>/<frame id>.png``
with the input annotation's palette, the first frame being the given ground truth copied as is,
which is the layout the official DAVIS evaluation (and ``davis_scoring``) reads. An overlay mp4
per sequence is optional.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from cyclecorr.eval.protocols import PropagationProtocol
from cyclecorr.eval.video_segmentation import overlay_mask, segment_video


class SequenceRun(NamedTuple):
    """What was written for one sequence.

    Attributes:
        name: Sequence name.
        num_frames: Frames predicted, the first (given) one included.
        seconds: Wall-clock time spent.
        overlay: Path of the overlay mp4, or None.
    """

    name: str
    num_frames: int
    seconds: float
    overlay: Path | None


def _frames(paths: list[Path]) -> Iterator[np.ndarray]:
    from cyclecorr.eval.davis_io import read_frame

    for path in paths:
        yield read_frame(path)  # (H, W, 3) uint8


def run_sequence(
    encoder: nn.Module,
    frame_paths: list[Path],
    first_annotation: Path,
    out_dir: Path,
    protocol: PropagationProtocol,
    device: torch.device | str = "cpu",
    overlay_path: Path | None = None,
) -> int:
    """Propagate one sequence's first annotation and write one PNG per frame into ``out_dir``.

    Args:
        encoder: Eval encoder on ``device``.
        frame_paths: Sorted frame files; prediction ``i`` is named after ``frame_paths[i]``.
        first_annotation: Palette PNG of frame 0 (ids 0..N, 255 void).
        out_dir: Folder for ``<frame stem>.png`` predictions (created).
        protocol: Propagation protocol.
        device: Device for encoding and attention.
        overlay_path: If given, an overlay mp4 of frames and predictions is written there.

    Returns:
        Number of frames written.
    """
    from cyclecorr.eval.davis_io import read_annotation, read_palette, write_annotation

    first_mask = read_annotation(first_annotation)  # (H, W) uint8
    palette = read_palette(first_annotation)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_annotation(out_dir / f"{frame_paths[0].stem}.png", first_mask, palette)
    overlays: list[np.ndarray] | None = [] if overlay_path is not None else None
    masks = segment_video(encoder, _frames(frame_paths), first_mask, protocol, device)
    for path, mask in zip(frame_paths[1:], masks):
        write_annotation(out_dir / f"{path.stem}.png", mask, palette)
        if overlays is not None:
            overlays.append(overlay_mask(next(_frames([path])), mask, palette))
    if overlay_path is not None and overlays:
        from cyclecorr.data.video_writer import write_video

        write_video(np.stack(overlays), overlay_path, fps=24.0, lossless=False)  # (T, H, W, 3)
    return len(frame_paths)


def run_davis(
    encoder: nn.Module,
    davis_root: str | Path,
    out_dir: str | Path,
    protocol: PropagationProtocol,
    sequences: list[str] | None = None,
    split: str = "val",
    resolution: str = "480p",
    device: torch.device | str = "cpu",
    max_frames: int | None = None,
    overlay: bool = False,
    progress: bool = True,
) -> list[SequenceRun]:
    """Propagate every sequence of a DAVIS split and write the predictions.

    Args:
        encoder: Eval encoder (eval mode) on ``device``.
        davis_root: Root with ``JPEGImages/``, ``Annotations/``, ``ImageSets/2017/``.
        out_dir: Predictions go to ``<out_dir>/<seq>/<frame id>.png``.
        protocol: Propagation protocol.
        sequences: Subset of sequence names (default: all of the split).
        split: ``ImageSets/2017/<split>.txt``.
        resolution: ``480p`` or ``Full-Resolution``.
        device: Device for encoding and attention.
        max_frames: Only the first ``max_frames`` frames of each sequence (quick checks).
        overlay: Also write ``<out_dir>/overlays/<seq>.mp4``.
        progress: Show a tqdm bar over sequences.

    Returns:
        One ``SequenceRun`` per sequence.
    """
    from cyclecorr.eval.davis_io import list_sequences, load_sequence

    names = list(sequences) if sequences else list_sequences(davis_root, split)
    out_dir = Path(out_dir)
    runs = []
    for name in tqdm(names, desc="propagate DAVIS", disable=not progress):
        seq = load_sequence(davis_root, name, resolution)
        frames = seq.frames[:max_frames] if max_frames else seq.frames
        start = time.perf_counter()
        ov = out_dir / "overlays" / f"{name}.mp4" if overlay else None
        count = run_sequence(
            encoder, frames, seq.annotations[0], out_dir / name, protocol, device, ov
        )
        runs.append(SequenceRun(name, count, time.perf_counter() - start, ov))
    return runs
