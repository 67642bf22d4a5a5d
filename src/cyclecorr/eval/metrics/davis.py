"""DAVIS-2017 region (J) and boundary (F) measures and their per-object statistics.

Definitions follow the official ``davis2017-evaluation`` code (semi-supervised task) exactly; the
numbers reproduce its output to float precision (``tests/test_davis_scoring.py``):

- ``J = |G & P| / |G | P|`` over the pixels that are not void; ``J = 1`` when the union is empty.
- ``F``: both masks (void pixels zeroed) are turned into 1-pixel boundary maps by ``seg2bmap``
  (a pixel is a boundary pixel when it differs from its east, south or south-east neighbour, with
  the official treatment of the last row and column). A predicted boundary pixel is matched when a
  ground-truth boundary pixel lies within the disk ``dx^2 + dy^2 <= r^2`` around it (and vice
  versa), ``r = ceil(bound_th * sqrt(H^2 + W^2))`` for ``bound_th < 1`` (``r = 8`` at 854x480).
  This is the official dilation by ``skimage.morphology.disk(r)`` (cv2 border: pixels outside the
  image never match). ``precision = matched predicted / predicted``, ``recall = matched gt / gt``;
  empty boundaries: none predicted and some in gt -> (1, 0), some predicted and none in gt ->
  (0, 1), both empty -> (1, 1). ``F = 2 P R / (P + R)``, 0 when ``P + R = 0``.
- Statistics of a per-frame series ``x`` (T,): Mean = nanmean(x), Recall = mean(x > 0.5),
  Decay = mean(bin 1) - mean(bin 4) with bin edges ``ids = round(linspace(1, T, 5) + 1e-10) - 1``
  and bin ``i = x[ids[i] : ids[i+1] + 1]`` (the ``+1e-10`` makes halves round up, unlike numpy's
  round-half-even). Deliberate deviation: the official casts ``ids`` to uint8, which wraps for
  series longer than 256 frames; we keep int64, identical for every DAVIS sequence (<= 104 frames).

The disk matching is computed without a full-image dilation: each boundary pixel of one mask
looks up the other mask's boundary at the disk offsets (nearest first, stopping at the first hit).
It tests the same set as the dilation, hence gives identical counts, and is much faster.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "Stats",
    "boundary_f",
    "boundary_radius",
    "disk",
    "jaccard",
    "seg_to_boundary",
    "statistics",
]


class Stats(NamedTuple):
    """Per-object statistics of a per-frame measure (all in [0, 1] except decay in [-1, 1])."""

    mean: float
    recall: float
    decay: float


def _check_same_shape(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None) -> None:
    if gt.ndim != 2 or gt.shape != pred.shape or (void is not None and void.shape != gt.shape):
        void_shape = None if void is None else void.shape
        raise ValueError(
            f"{__name__}: expected 2-D masks of one shape (H, W), found gt {gt.shape}, "
            f"pred {pred.shape}, void {void_shape}; resize the prediction to the annotation size."
        )


def jaccard(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity J (intersection over union) of one object in one frame.

    Args:
        gt: (H, W) ground-truth mask; nonzero = object.
        pred: (H, W) predicted mask; nonzero = object.
        void: optional (H, W) mask of pixels excluded from both masks.

    Returns:
        IoU in [0, 1]; 1.0 when the union (outside void) is empty.
    """
    _check_same_shape(gt, pred, void)
    gt, pred = gt.astype(bool), pred.astype(bool)
    keep = np.ones_like(gt) if void is None else ~void.astype(bool)
    union = np.count_nonzero((gt | pred) & keep)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(gt & pred & keep) / union)


def seg_to_boundary(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary map of a binary mask (the official ``seg2bmap``, same-size case).

    Pixel (y, x) is a boundary pixel when its value differs from the east (y, x+1), south
    (y+1, x) or south-east (y+1, x+1) neighbour, neighbours outside the image counting as 0.
    The last row compares only with the east neighbour, the last column only with the south
    neighbour, and the bottom-right pixel is never a boundary pixel. Boundaries therefore sit
    half a pixel towards the origin from the true segment edge.

    Args:
        mask: (H, W) mask; nonzero = foreground.

    Returns:
        (H, W) bool boundary map.
    """
    seg = mask.astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    boundary = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    boundary[-1, :] = seg[-1, :] ^ east[-1, :]
    boundary[:, -1] = seg[:, -1] ^ south[:, -1]
    boundary[-1, -1] = False
    return boundary


def boundary_radius(height: int, width: int, bound_th: float = 0.008) -> int:
    """Matching tolerance in pixels: ``ceil(bound_th * sqrt(H^2 + W^2))``, or ``bound_th`` if >= 1.

    Raises:
        ValueError: if ``bound_th >= 1`` is not a whole number of pixels.
    """
    if bound_th >= 1:
        if bound_th != int(bound_th):
            raise ValueError(
                f"{__name__}: bound_th >= 1 is a radius in pixels and must be whole, found "
                f"{bound_th}; pass an integer or a fraction of the diagonal (< 1)."
            )
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(height, width)))


def disk(radius: int) -> np.ndarray:
    """(2r+1, 2r+1) bool disk ``dx^2 + dy^2 <= r^2`` (as ``skimage.morphology.disk``)."""
    offsets = np.arange(-radius, radius + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2


@functools.lru_cache(maxsize=8)
def _disk_offsets(radius: int) -> np.ndarray:
    """(K, 2) int (dy, dx) offsets of ``disk(radius)``, nearest first."""
    offsets = np.argwhere(disk(radius)) - radius  # (K, 2)
    order = np.argsort((offsets**2).sum(axis=1), kind="stable")
    return offsets[order]


def _count_near(points: np.ndarray, target: np.ndarray, radius: int) -> int:
    """How many of ``points`` (N, 2) int (y, x) lie within the disk of radius r of a target pixel.

    Equivalent to ``sum(binary_dilation(target, disk(radius))[points])`` with pixels outside the
    image never matching. Offsets are tried nearest first and matched points drop out, so a good
    prediction costs a few gathers instead of a full-image dilation.
    """
    if len(points) == 0 or not target.any():
        return 0
    padded = np.pad(target, radius)  # (H + 2r, W + 2r), zeros outside the image
    stride = padded.shape[1]
    flat = padded.ravel()  # (H + 2r) * (W + 2r)
    index = (points[:, 0] + radius) * stride + points[:, 1] + radius  # (N,) into flat
    matched = 0
    for dy, dx in _disk_offsets(radius):
        hit = flat[index + (dy * stride + dx)]
        if hit.any():
            matched += int(hit.sum())
            index = index[~hit]
            if len(index) == 0:
                break
    return matched


def _crop_to_content(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crop both masks to their joint bounding box plus a 1-pixel margin (clipped to the image).

    Boundaries are unchanged: a ``seg_to_boundary`` pixel depends only on itself and its
    east/south neighbours, the margin keeps the pixels just above/left of the content, and a
    crop edge that is not an image edge has only zeros around it (no boundary either way).
    """
    content = gt | pred
    rows = np.flatnonzero(content.any(axis=1))
    cols = np.flatnonzero(content.any(axis=0))
    if rows.size == 0:
        return gt, pred
    y0, y1 = max(rows[0] - 1, 0), rows[-1] + 2
    x0, x1 = max(cols[0] - 1, 0), cols[-1] + 2
    return gt[y0:y1, x0:x1], pred[y0:y1, x0:x1]


def _precision_recall(n_pred: int, n_gt: int, pred_hit: int, gt_hit: int) -> tuple[float, float]:
    if n_pred == 0 and n_gt > 0:
        return 1.0, 0.0
    if n_pred > 0 and n_gt == 0:
        return 0.0, 1.0
    if n_pred == 0 and n_gt == 0:
        return 1.0, 1.0
    return pred_hit / n_pred, gt_hit / n_gt


def boundary_f(
    gt: np.ndarray,
    pred: np.ndarray,
    void: np.ndarray | None = None,
    bound_th: float = 0.008,
) -> float:
    """Boundary F-measure of one object in one frame (official ``f_measure``).

    Args:
        gt: (H, W) ground-truth mask; nonzero = object.
        pred: (H, W) predicted mask; nonzero = object.
        void: optional (H, W) mask of pixels zeroed in both masks before taking boundaries.
        bound_th: tolerance as a fraction of the image diagonal (< 1) or in pixels (>= 1).

    Returns:
        F in [0, 1] (see the module docstring for the empty-boundary cases).
    """
    _check_same_shape(gt, pred, void)
    gt, pred = gt.astype(bool), pred.astype(bool)
    if void is not None:
        keep = ~void.astype(bool)
        gt, pred = gt & keep, pred & keep
    radius = boundary_radius(gt.shape[0], gt.shape[1], bound_th)
    gt, pred = _crop_to_content(gt, pred)
    gt_boundary = seg_to_boundary(gt)
    pred_boundary = seg_to_boundary(pred)
    gt_points = np.argwhere(gt_boundary)  # (N_gt, 2) (y, x)
    pred_points = np.argwhere(pred_boundary)  # (N_pred, 2) (y, x)
    precision, recall = _precision_recall(
        len(pred_points),
        len(gt_points),
        _count_near(pred_points, gt_boundary, radius),
        _count_near(gt_points, pred_boundary, radius),
    )
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def statistics(values: np.ndarray) -> Stats:
    """Mean, Recall (fraction > 0.5) and Decay (first minus last quarter) of a per-frame series.

    Args:
        values: (T,) float per-frame J or F of one object (first and last frames already removed).

    Returns:
        ``Stats(mean, recall, decay)``; NaN entries are ignored by the means.

    Raises:
        ValueError: if ``values`` is not a non-empty 1-D array.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"{__name__}: statistics expects a non-empty (T,) series, found shape {values.shape}; "
            "a DAVIS sequence needs at least 3 annotated frames (first and last are excluded)."
        )
    num_bins = 4
    ids = (np.round(np.linspace(1, len(values), num_bins + 1) + 1e-10) - 1).astype(np.int64)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(num_bins)]
    mean = float(np.nanmean(values))
    recall = float(np.mean(values > 0.5))
    decay = float(np.nanmean(bins[0]) - np.nanmean(bins[-1]))
    return Stats(mean, recall, decay)
