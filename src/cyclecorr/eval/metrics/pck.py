"""PCK@alpha: percentage of correct keypoints for propagated JHMDB joints.

A joint of frame t is correct when ``||pred - gt||_2 <= alpha * 0.6 * d_t`` (pixels), where
``d_t = sqrt(w_t^2 + h_t^2)`` is the diagonal of the tight box around the *visible* ground-truth
joints of frame t (``w_t = max x - min x``, ``h_t = max y - min y``). Only visible joints are
counted, and frame 0 (the given annotation) is excluded by default. Per joint, PCK is the fraction
of correct counted instances pooled over all evaluated frames of all videos; the reported PCK is
the mean of the per-joint values over the joints that were counted at least once (a joint never
visible is NaN and left out). Values are fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["PCKAccumulator", "PCKResult", "pck", "pck_thresholds"]


class PCKResult(NamedTuple):
    """PCK per joint ((J,) float64, NaN for joints never counted) and its mean over joints."""

    per_joint: np.ndarray
    mean: float


def _check(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> None:
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(
            f"{__name__}: expected pred and gt of one shape (T, J, 2) xy, found {pred.shape} and "
            f"{gt.shape}."
        )
    if visible.shape != gt.shape[:2]:
        raise ValueError(
            f"{__name__}: visible must be (T, J) = {gt.shape[:2]}, found {visible.shape}."
        )


def pck_thresholds(gt: np.ndarray, visible: np.ndarray, alpha: float) -> np.ndarray:
    """Per-frame distance thresholds ``alpha * 0.6 * diagonal`` of the visible-joint box.

    Args:
        gt: (T, J, 2) xy ground-truth joints in pixels.
        visible: (T, J) bool.
        alpha: PCK tolerance, e.g. 0.1 or 0.2.

    Returns:
        (T,) float64 thresholds in pixels; NaN for frames without a visible joint.
    """
    masked = np.where(visible[..., None], gt, np.nan)  # (T, J, 2)
    any_visible = np.any(visible, axis=1)  # (T,)
    safe = np.where(any_visible[:, None, None], masked, 0.0)  # (T, J, 2), avoids all-NaN warnings
    extent = np.nanmax(safe, axis=1) - np.nanmin(safe, axis=1)  # (T, 2) box w, h
    diagonal = np.hypot(extent[:, 0], extent[:, 1])  # (T,)
    return np.where(any_visible, alpha * 0.6 * diagonal, np.nan)


class PCKAccumulator:
    """Pools correct / counted joint instances over videos, for one or more alphas.

    Args:
        num_joints: J (15 for JHMDB).
        alphas: tolerances to report.
        skip_first: exclude frame 0 of each video (the given annotation).
    """

    def __init__(
        self,
        num_joints: int = 15,
        alphas: Sequence[float] = (0.1, 0.2),
        skip_first: bool = True,
    ) -> None:
        self.num_joints = num_joints
        self.alphas = tuple(alphas)
        self.skip_first = skip_first
        self.correct = np.zeros((len(self.alphas), num_joints), dtype=np.int64)
        self.counted = np.zeros(num_joints, dtype=np.int64)

    def update(self, pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> None:
        """Add one video: pred, gt (T, J, 2) xy pixels, visible (T, J) bool."""
        pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
        visible = np.asarray(visible, dtype=bool)
        _check(pred, gt, visible)
        if gt.shape[1] != self.num_joints:
            raise ValueError(
                f"{__name__}: accumulator has {self.num_joints} joints, video has {gt.shape[1]}."
            )
        if self.skip_first:
            pred, gt, visible = pred[1:], gt[1:], visible[1:]
        error = np.linalg.norm(pred - gt, axis=-1)  # (T, J) pixels
        self.counted += visible.sum(axis=0)
        for a, alpha in enumerate(self.alphas):
            threshold = pck_thresholds(gt, visible, alpha)  # (T,)
            with np.errstate(invalid="ignore"):
                hit = (error <= threshold[:, None]) & visible  # (T, J)
            self.correct[a] += hit.sum(axis=0)

    def result(self, alpha: float) -> PCKResult:
        """PCK at ``alpha`` (one of ``self.alphas``) over everything added so far."""
        if alpha not in self.alphas:
            raise ValueError(f"{__name__}: alpha {alpha} not tracked; tracked: {self.alphas}.")
        correct = self.correct[self.alphas.index(alpha)]
        per_joint = np.full(self.num_joints, np.nan)
        seen = self.counted > 0
        per_joint[seen] = correct[seen] / self.counted[seen]
        mean = float(per_joint[seen].mean()) if seen.any() else float("nan")
        return PCKResult(per_joint, mean)


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    alpha: float,
    skip_first: bool = True,
) -> PCKResult:
    """PCK@alpha of one video.

    Args:
        pred: (T, J, 2) xy predicted joints in pixels.
        gt: (T, J, 2) xy ground-truth joints in pixels (same convention as ``pred``).
        visible: (T, J) bool, which ground-truth joints count.
        alpha: tolerance as a fraction of 0.6 x the visible-joint box diagonal.
        skip_first: exclude frame 0 (the given annotation).

    Returns:
        ``PCKResult(per_joint (J,), mean)`` in [0, 1].
    """
    gt = np.asarray(gt)
    accumulator = PCKAccumulator(gt.shape[1] if gt.ndim == 3 else 0, (alpha,), skip_first)
    accumulator.update(pred, gt, visible)
    return accumulator.result(alpha)
