"""Confusion matrix and mean intersection over union (VIP part propagation).

One ``C x C`` confusion matrix ``M[g, p]`` (pixels of ground-truth class g predicted as p) is
accumulated over all scored frames of all videos; pixels whose ground truth is ``ignore_index``
are skipped. Per class ``IoU_c = M[c, c] / (sum_p M[c, p] + sum_g M[g, c] - M[c, c])``. A class
absent from both ground truth and prediction (union 0) has IoU NaN and is left out of the mean:
``mIoU = mean of IoU_c over classes with a non-empty union``. Values are fractions in [0, 1].
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["ConfusionMatrix", "MiouResult"]


class MiouResult(NamedTuple):
    """Per-class IoU ((C,) float64, NaN where the class never occurs) and the mIoU."""

    per_class: np.ndarray
    miou: float


class ConfusionMatrix:
    """Accumulates a (C, C) int64 confusion matrix, rows ground truth, columns prediction.

    Args:
        num_classes: C (20 for VIP: background + 19 parts).
        ignore_index: ground-truth value skipped (255 for VIP).
    """

    def __init__(self, num_classes: int = 20, ignore_index: int | None = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        """Add one frame: gt and pred (H, W) integer class ids of one shape.

        Raises:
            ValueError: for mismatched shapes, a prediction outside 0..C-1, or a ground-truth id
                outside 0..C-1 that is not ``ignore_index``.
        """
        gt, pred = np.asarray(gt).astype(np.int64), np.asarray(pred).astype(np.int64)
        if gt.shape != pred.shape:
            raise ValueError(
                f"{__name__}: gt is {gt.shape} but pred is {pred.shape}; resize the prediction "
                "to the annotation size (nearest neighbour) first."
            )
        keep = (
            np.ones(gt.shape, dtype=bool) if self.ignore_index is None else gt != self.ignore_index
        )
        gt, pred = gt[keep], pred[keep]
        for name, ids in (("gt", gt), ("pred", pred)):
            if ids.size and (ids.min() < 0 or ids.max() >= self.num_classes):
                raise ValueError(
                    f"{__name__}: {name} holds ids {sorted(set(ids.tolist()))[:10]}, expected "
                    f"0..{self.num_classes - 1} (ignore_index {self.ignore_index} for gt)."
                )
        flat = gt * self.num_classes + pred  # (N,) index into the flattened (C, C) matrix
        counts = np.bincount(flat, minlength=self.num_classes**2)
        self.matrix += counts.reshape(self.num_classes, self.num_classes)  # (C*C,) -> (C, C)

    def merge(self, other: ConfusionMatrix) -> None:
        """Add the counts of another matrix of the same size (e.g. from another worker)."""
        if other.matrix.shape != self.matrix.shape:
            raise ValueError(
                f"{__name__}: cannot merge a {other.matrix.shape} matrix into {self.matrix.shape}."
            )
        self.matrix += other.matrix

    def miou(self) -> MiouResult:
        """Per-class IoU and their mean over classes present in gt or prediction."""
        intersection = np.diag(self.matrix).astype(np.float64)  # (C,)
        union = self.matrix.sum(axis=0) + self.matrix.sum(axis=1) - intersection  # (C,)
        per_class = np.full(self.num_classes, np.nan)
        present = union > 0
        per_class[present] = intersection[present] / union[present]
        miou = float(per_class[present].mean()) if present.any() else float("nan")
        return MiouResult(per_class, miou)
