"""Online DAVIS probe: J&F of label propagation on a few sequences, for monitoring training.

Propagates the first annotation of each sequence with the given encoder (optionally only the
first ``max_frames`` frames), scores the predictions with the official DAVIS definitions on
the same truncated frame range (``score_first_frames``) and returns the mean J&F over objects
and an overlay image (ground truth of frame 0 | prediction of the last frame of the first
sequence). Predictions go to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import nn

from cyclecorr.eval.protocols import PropagationProtocol

if TYPE_CHECKING:
    from cyclecorr.eval.davis_scoring import ScoringResult


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
    from cyclecorr.eval.davis_io import read_annotation, read_frame, read_palette
    from cyclecorr.eval.video_segmentation import overlay_mask
    from cyclecorr.viz.images import hstack

    palette = read_palette(gt)
    first = overlay_mask(read_frame(sequence_frames[0]), read_annotation(gt), palette)
    last = overlay_mask(read_frame(sequence_frames[-1]), read_annotation(pred), palette)
    return hstack([first, last])


def score_first_frames(
    davis_root: str | Path,
    results_dir: str | Path,
    sequences: list[str],
    max_frames: int | None,
    resolution: str = "480p",
) -> ScoringResult:
    """Official DAVIS scores of the first ``max_frames`` frames of each sequence.

    Like ``davis_scoring.evaluate_sequences`` on sequences cut after ``max_frames`` frames (the
    first and the last kept frame are excluded, as for a full sequence); global numbers are means
    over objects.
    """
    from cyclecorr.eval.davis_io import load_sequence
    from cyclecorr.eval.davis_scoring import GlobalScores, ScoringResult, score_sequence

    objects = []
    for name in sequences:
        seq = load_sequence(davis_root, name, resolution)
        seq = seq._replace(frames=seq.frames[:max_frames], annotations=seq.annotations[:max_frames])
        objects.extend(score_sequence(seq, results_dir))
    j = np.array([obj.j for obj in objects])  # (num_objects, 3) mean, recall, decay
    f = np.array([obj.f for obj in objects])  # (num_objects, 3)
    j_avg, f_avg = j.mean(axis=0), f.mean(axis=0)
    jf = float((j_avg[0] + f_avg[0]) / 2)
    return ScoringResult(objects, GlobalScores(jf, *map(float, j_avg), *map(float, f_avg)))


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
        protocol: Propagation protocol (e.g. ``get_protocol("timecycle", size=160)`` for speed).
        max_frames: Use only the first ``max_frames`` frames (>= 3, scoring drops first and last).
        device: Device for encoding and attention.

    Returns:
        ``ProbeResult(jf, overlay)``.
    """
    from cyclecorr.eval.davis_io import load_sequence
    from cyclecorr.eval.davis_runner import run_sequence

    if not sequences or (max_frames is not None and max_frames < 3):
        raise ValueError(
            f"cyclecorr/eval/probe.py: need >= 1 sequence and max_frames >= 3 (scoring drops the "
            f"first and last frames); got sequences={sequences}, max_frames={max_frames}"
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
