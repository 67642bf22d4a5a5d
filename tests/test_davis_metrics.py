"""Golden tests of the DAVIS J / F measures and statistics (hand-computed values)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from cyclecorr.eval.metrics.davis import (
    Stats,
    boundary_f,
    boundary_radius,
    disk,
    jaccard,
    seg_to_boundary,
    statistics,
)


def _square(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_jaccard_hand_computed_4x4() -> None:
    gt = np.zeros((4, 4), dtype=bool)
    gt[0:2, 0:2] = True  # 4 pixels
    pred = np.zeros((4, 4), dtype=bool)
    pred[0:2, 1:3] = True  # 4 pixels, 2 shared
    assert jaccard(gt, pred) == pytest.approx(2 / 6)
    void = np.zeros((4, 4), dtype=bool)
    void[0:2, 2] = True  # removes 2 predicted-only pixels
    assert jaccard(gt, pred, void) == pytest.approx(2 / 4)
    assert jaccard(gt, gt) == 1.0


def test_jaccard_empty_cases() -> None:
    empty = np.zeros((4, 4), dtype=bool)
    full = np.ones((4, 4), dtype=bool)
    assert jaccard(empty, empty) == 1.0
    assert jaccard(empty, full) == 0.0
    assert jaccard(full, empty) == 0.0
    assert jaccard(full, full, void=full) == 1.0  # everything void: empty union


def test_jaccard_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="resize the prediction"):
        jaccard(np.zeros((4, 4)), np.zeros((4, 5)))


def test_seg_to_boundary_hand_computed() -> None:
    mask = _square(4, 1, 1, 2)
    expected = np.array(
        [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]],
        dtype=bool,
    )
    np.testing.assert_array_equal(seg_to_boundary(mask), expected)


def test_seg_to_boundary_full_and_empty_masks_have_no_boundary() -> None:
    # Official quirk: a mask covering the whole frame has no boundary pixel at all.
    assert not seg_to_boundary(np.ones((5, 7), dtype=bool)).any()
    assert not seg_to_boundary(np.zeros((5, 7), dtype=bool)).any()


def test_boundary_radius_and_disk() -> None:
    assert boundary_radius(480, 854) == 8  # ceil(0.008 * 979.6)
    assert boundary_radius(480, 1301) == 12  # ceil(0.008 * 1386.7)
    assert boundary_radius(10, 10) == 1
    assert boundary_radius(480, 854, bound_th=3) == 3
    with pytest.raises(ValueError, match="whole"):
        boundary_radius(10, 10, bound_th=1.5)
    expected = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    np.testing.assert_array_equal(disk(1), expected)
    assert disk(8).sum() == 197  # lattice points with x^2 + y^2 <= 64


def test_boundary_f_square_shifted_by_one_pixel() -> None:
    gt = _square(10, 2, 2, 4)  # boundary: the 16-pixel ring rows 1..5, cols 1..5
    pred = _square(10, 2, 3, 4)  # shifted right by 1
    assert boundary_f(gt, pred, bound_th=1) == pytest.approx(1.0)
    assert boundary_f(gt, pred) == pytest.approx(1.0)  # default: radius ceil(0.008 * 14.1) = 1
    # radius 0: only the top and bottom rows overlap (4 + 4 of 16): P = R = 0.5
    assert boundary_f(gt, pred, bound_th=0.0) == pytest.approx(0.5)


def test_boundary_f_square_shifted_by_two_pixels() -> None:
    gt = _square(10, 2, 2, 4)
    pred = _square(10, 2, 4, 4)
    # Within 1 pixel: 4 + 4 on the top/bottom rows, 2 corners of the near side: 10 of 16.
    assert boundary_f(gt, pred, bound_th=1) == pytest.approx(10 / 16)
    assert boundary_f(gt, pred, bound_th=2) == pytest.approx(1.0)


def test_boundary_f_empty_cases() -> None:
    empty = np.zeros((10, 10), dtype=bool)
    square = _square(10, 2, 2, 4)
    assert boundary_f(empty, empty) == 1.0  # P = R = 1
    assert boundary_f(square, empty) == 0.0  # P = 1, R = 0
    assert boundary_f(empty, square) == 0.0  # P = 0, R = 1
    assert boundary_f(square, square, void=square) == 1.0  # void erases both


def _reference_f(gt: np.ndarray, pred: np.ndarray, radius: int) -> float:
    """The official f_measure written with a full-image dilation (cv2 border = no match)."""
    gt_b, pred_b = seg_to_boundary(gt), seg_to_boundary(pred)
    structure = disk(radius)
    gt_dil = binary_dilation(gt_b, structure=structure, border_value=0)
    pred_dil = binary_dilation(pred_b, structure=structure, border_value=0)
    n_pred, n_gt = pred_b.sum(), gt_b.sum()
    if n_pred == 0 or n_gt == 0:
        return float(n_pred == n_gt)
    precision, recall = (pred_b & gt_dil).sum() / n_pred, (gt_b & pred_dil).sum() / n_gt
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("radius", [1, 2, 3, 5])
def test_boundary_f_equals_full_image_disk_dilation(radius: int) -> None:
    rng = np.random.default_rng(radius)
    for _ in range(5):
        gt = binary_dilation(rng.random((37, 53)) > 0.98, iterations=2)
        pred = binary_dilation(rng.random((37, 53)) > 0.98, iterations=2)
        expected = _reference_f(gt, pred, radius)
        assert boundary_f(gt, pred, bound_th=radius) == pytest.approx(expected, abs=1e-12)
        assert 0.0 < expected < 1.0  # a non-trivial case


def test_boundary_f_objects_touching_the_image_edges() -> None:
    # The crop to content must keep the official last-row / last-column rules.
    gt = np.zeros((20, 30), dtype=bool)
    gt[12:, 20:] = True  # touches the bottom-right corner
    gt[:3, :4] = True  # touches the top-left corner
    pred = np.roll(gt, (1, -2), axis=(0, 1))
    for radius in (1, 2, 4):
        expected = _reference_f(gt, pred, radius)
        assert 0.0 < expected < 1.0
        assert boundary_f(gt, pred, bound_th=radius) == pytest.approx(expected, abs=1e-12)


def test_statistics_hand_computed_rounds_halves_up() -> None:
    values = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.5, 0.3])
    # T = 7: linspace(1, 7, 5) = 1, 2.5, 4, 5.5, 7 -> ids 0, 2, 3, 5, 6 (halves round up)
    # first bin x[0:3] mean 2/3, last bin x[5:7] mean 0.4 (round-half-even would give x[0:2])
    stats = statistics(values)
    assert isinstance(stats, Stats)
    assert stats.mean == pytest.approx(2.8 / 7)
    assert stats.recall == pytest.approx(2 / 7)  # 0.5 is not > 0.5
    assert stats.decay == pytest.approx(2 / 3 - 0.4)


def test_statistics_constant_series_has_no_decay() -> None:
    stats = statistics(np.full(48, 0.8))
    assert stats == pytest.approx(Stats(0.8, 1.0, 0.0))
    with pytest.raises(ValueError, match="at least 3"):
        statistics(np.array([]))
