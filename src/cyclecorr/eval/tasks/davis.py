"""The DAVIS task: propagate over a DAVIS-2017 root, write palette PNGs, score them officially.

For each sequence the first annotation is the input; every later frame is predicted with
``segment_video`` (frames decoded one at a time) and written to ``<out>/<seq>/<frame id>.png``
with the input annotation's palette, the first frame being the given ground truth copied as is,
which is the layout the official DAVIS evaluation (and ``cyclecorr.eval.tasks.davis_scoring``)
reads.
An overlay mp4 per sequence is optional. ``davis_task`` is the ``eval=davis`` / ``eval=synthetic``
entry (scoring an existing predictions folder when one is given); ``davis_probe`` the online
probe's few-sequence version.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from cyclecorr.data.davis_format import read_annotation, read_palette, write_annotation
from cyclecorr.data.video_writer import write_video
from cyclecorr.eval.datasets.davis import list_sequences, load_sequence, read_frame
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.propagation.segmentation import segment_video
from cyclecorr.eval.tasks.context import EvalContext, TaskResult
from cyclecorr.eval.tasks.davis_scoring import score_first_frames, score_folder
from cyclecorr.viz.images import hstack
from cyclecorr.viz.overlay import overlay_mask


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


class ProbeResult(NamedTuple):
    """Outcome of ``davis_probe``.

    Attributes:
        jf: Mean J&F over all objects of the probed sequences, in [0, 1].
        overlay: (H, W', 3) uint8 image: frame 0 with its ground truth, then the last probed
            frame with its prediction (first sequence).
    """

    jf: float
    overlay: np.ndarray


def _overlay(sequence_frames: list[Path], gt: Path, pred: Path) -> np.ndarray:
    palette = read_palette(gt)
    first = overlay_mask(read_frame(sequence_frames[0]), read_annotation(gt), palette)
    last = overlay_mask(read_frame(sequence_frames[-1]), read_annotation(pred), palette)
    return hstack([first, last])


@torch.no_grad()
def davis_probe(
    encoder: nn.Module,
    davis_root: str | Path,
    sequences: list[str],
    protocol: PropagationProtocol,
    max_frames: int | None = None,
    device: torch.device | str = "cpu",
) -> ProbeResult:
    """Propagate and score a few DAVIS sequences.

    Args:
        encoder: (N, 3, H, W) normalised -> (N, C, H/8, W/8), on ``device``; the caller puts it in
            eval mode.
        davis_root: DAVIS-2017 layout root (480p).
        sequences: Sequence names (at least one).
        protocol: Propagation protocol (e.g. the timecycle preset at ``size=160`` for speed).
        max_frames: Use only the first ``max_frames`` frames (>= 3, scoring drops first and last).
        device: Device for encoding and attention.

    Returns:
        ``ProbeResult(jf, overlay)``.
    """
    if not sequences or (max_frames is not None and max_frames < 3):
        raise ValueError(
            f"{__name__}: need >= 1 sequence and max_frames >= 3 (scoring "
            f"drops the first and last frames); got sequences={sequences}, max_frames={max_frames}"
        )
    overlay = None
    with tempfile.TemporaryDirectory(prefix="cyclecorr-probe-") as tmp:
        for name in sequences:
            seq = load_sequence(davis_root, name)
            frames, first = seq.frames[:max_frames], seq.annotations[0]
            run_sequence(encoder, frames, first, Path(tmp) / name, protocol, device)
            if overlay is None:
                overlay = _overlay(frames, first, Path(tmp) / name / f"{frames[-1].stem}.png")
        result = score_first_frames(davis_root, tmp, sequences, max_frames)
    assert overlay is not None
    return ProbeResult(result.overall.jf_mean, overlay)


def davis_task(
    ctx: EvalContext,
    root: str | Path,
    split: str = "val",
    resolution: str = "480p",
    sequences: list[str] | None = None,
    predictions: str | Path | None = None,
    max_frames: int | None = None,
    overlay: bool = False,
    num_workers: int = 0,
    prepare: Callable[[], object] | None = None,
) -> TaskResult:
    """Propagate (unless ``predictions`` is given) and score a DAVIS-layout root.

    Args:
        ctx: Encoder, protocol, run folder, device.
        root: DAVIS-2017 layout root.
        split: ``ImageSets/2017/<split>.txt``.
        resolution: ``480p`` or ``Full-Resolution``.
        sequences: Subset of sequence names (default: the split's).
        predictions: An existing predictions folder: score it, build no model.
        max_frames: Only the first ``max_frames`` frames of each sequence (scored on those).
        overlay: Also write ``predictions/overlays/<seq>.mp4``.
        num_workers: Scoring processes.
        prepare: Called first when set (``eval=synthetic`` writes its videos into ``root``).

    Returns:
        ``TaskResult`` with the official global columns, ``num_objects`` and, after propagation,
        ``frames_per_second``; the official CSVs are written into ``ctx.out_dir``.
    """

    names = list(sequences) if sequences else None
    if predictions is not None:
        folder = Path(predictions)
        return TaskResult(
            score_folder(
                root,
                folder,
                ctx.out_dir,
                names,
                split,
                resolution,
                max_frames,
                num_workers,
                ctx.progress,
            ),
            used_model=False,
        )
    if prepare is not None:
        prepare()
    folder = ctx.out_dir / "predictions"
    runs = run_davis(
        ctx.encoder(), root, folder, ctx.protocol, names, split, resolution, ctx.device,
        max_frames, overlay, ctx.progress,
    )  # fmt: skip
    metrics = score_folder(
        root, folder, ctx.out_dir, names, split, resolution, max_frames, num_workers, ctx.progress
    )
    frames = sum(run.num_frames for run in runs)
    metrics["frames_per_second"] = frames / max(1e-9, sum(run.seconds for run in runs))
    return TaskResult(metrics)
