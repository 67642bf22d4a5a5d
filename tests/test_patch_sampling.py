"""Golden tests for motion-weighted patch choice, rotation and the patch crop."""

import math

import kornia
import numpy as np
import pytest
import torch

from cyclecorr.data.timecycle.patch_sampling import (
    PatchSample,
    choose_window,
    cut_patch,
    motion_map,
    sample_patch,
    window_centers,
    window_scores,
)
from cyclecorr.ops.geometry import patch_theta

S = 72  # windows of 24 px at left edges 0, 8, ..., 48: every window is pixel-aligned


def _frame(seed: int = 0) -> torch.Tensor:
    return torch.rand(3, S, S, generator=torch.Generator().manual_seed(seed))


def _corners(theta: torch.Tensor) -> torch.Tensor:
    unit = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    return unit @ theta[:, :2].T + theta[:, 2]  # (4, 2)


def test_window_centers_span_frame() -> None:
    centers = window_centers(7)
    assert centers.shape == (49, 2)
    assert torch.allclose(centers[0], torch.tensor([-2 / 3, -2 / 3]))
    assert torch.allclose(centers[24], torch.zeros(2), atol=1e-7)
    assert torch.allclose(centers[6], torch.tensor([2 / 3, -2 / 3]))  # row 0, last column


def test_window_scores_hand_computed() -> None:
    scores = window_scores(torch.ones(S, S), 7)
    assert scores.shape == (49,) and torch.all(scores == 24 * 24)
    motion = torch.zeros(S, S)
    motion[0, 0] = 5.0  # only window (0, 0) covers pixel (0, 0)
    motion[40, 60] = 1.0  # rows lo in {24, 32, 40}; cols lo in {40, 48}
    scores = window_scores(motion, 7).reshape(7, 7)
    assert scores[0, 0] == 5.0
    assert scores.sum() == 5.0 + 6.0
    assert torch.all(scores[3:6, 5:7] == 1.0)


def test_motion_map_sums_channels() -> None:
    a = torch.zeros(3, 2, 2)
    b = torch.zeros(3, 2, 2)
    b[:, 1, 0] = torch.tensor([1.0, -2.0, 0.5])
    assert motion_map(a, b).tolist() == [[0.0, 0.0], [3.5, 0.0]]


def test_unrotated_patch_is_pixel_exact_subimage() -> None:
    frame = _frame()
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        out = sample_patch(frame, _frame(1), rng, max_angle_deg=0.0, jitter_px=0.0)
        assert isinstance(out, PatchSample) and out.patch.shape == (3, 24, 24)
        row, col = divmod(out.window, 7)
        expected = frame[:, 8 * row : 8 * row + 24, 8 * col : 8 * col + 24]
        assert torch.allclose(out.patch, expected, atol=1e-5)
        seen.add(out.window)
    assert len(seen) > 3


def test_rotation_90_is_rot90_of_unrotated_patch() -> None:
    frame = _frame()
    upright = cut_patch(frame, patch_theta(0.0, 0.0, 0.0), 24)
    turned = cut_patch(frame, patch_theta(0.0, 0.0, math.pi / 2), 24)
    assert torch.allclose(turned, torch.rot90(upright, 1, dims=(1, 2)), atol=1e-5)


@pytest.mark.parametrize("degrees", [30.0, -17.0])
def test_rotated_patch_matches_kornia_rotation_then_crop(degrees: float) -> None:
    frame = _frame()
    # window row 2, col 4: pixels rows 16..39, cols 32..55; centre (43.5, 27.5) in pixels
    cx, cy = (2 * 44 / S) - 1, (2 * 28 / S) - 1
    patch = cut_patch(frame, patch_theta(cx, cy, math.radians(degrees)), 24)
    center = torch.tensor([[43.5, 27.5]])
    rotated = kornia.geometry.transform.rotate(frame[None], torch.tensor([degrees]), center)[0]
    assert torch.allclose(patch, rotated[:, 16:40, 32:56], atol=1e-4)


def test_theta_form_and_patch_inside_frame() -> None:
    rng = np.random.default_rng(1)
    frame, later = _frame(2), _frame(3)
    angles = []
    for _ in range(100):
        theta = sample_patch(frame, later, rng, jitter_px=8.0).theta
        assert theta.shape == (2, 3) and theta.dtype == torch.float32
        linear = theta[:, :2] * 3  # a rotation matrix
        assert torch.allclose(linear @ linear.T, torch.eye(2), atol=1e-5)
        assert torch.all(_corners(theta).abs() <= 1.0 + 1e-5)
        angles.append(math.degrees(math.atan2(theta[1, 0].item(), theta[0, 0].item())))
    assert -45.0 <= min(angles) < -30.0 and 30.0 < max(angles) <= 45.0


def test_corner_window_at_45_degrees_is_pulled_inside() -> None:
    theta = patch_theta(2 / 3, -2 / 3, math.radians(45))
    corners = _corners(theta)
    assert corners.abs().max().item() == pytest.approx(1.0, abs=1e-6)
    assert theta[0, 2].item() == pytest.approx(1 - math.sqrt(2) / 3, abs=1e-6)


def test_motion_in_one_region_picks_among_top_windows() -> None:
    target = _frame(4)
    later = target.clone()
    later[:, 30:42, 50:62] += 2.0  # moving blob: 25 windows touch it, unequally
    scores = window_scores(motion_map(target, later), 7)
    tenth = torch.sort(scores, descending=True).values[9]
    assert tenth > 0
    rng = np.random.default_rng(5)
    picks = [sample_patch(target, later, rng).window for _ in range(200)]
    assert all(scores[w] >= tenth for w in picks)
    assert len(set(picks)) >= 8  # uniform among the top 10, not always the best


def test_static_clip_picks_windows_everywhere() -> None:
    frame = _frame(5)
    rng = np.random.default_rng(6)
    rows = {sample_patch(frame, frame, rng).window // 7 for _ in range(100)}
    assert rows == set(range(7))  # ties broken at random, not the first 10 windows


def test_deterministic_given_rng_and_checks_shape() -> None:
    a = sample_patch(_frame(), _frame(1), np.random.default_rng([1, 2]))
    b = sample_patch(_frame(), _frame(1), np.random.default_rng([1, 2]))
    assert torch.equal(a.theta, b.theta) and torch.equal(a.patch, b.patch)
    with pytest.raises(ValueError, match="square"):
        sample_patch(torch.zeros(3, 24, 48), torch.zeros(3, 24, 48), np.random.default_rng(0))


# ------------------------------------------------ the release's jitter and clamp
def test_release_jitter_equals_the_release_formula() -> None:
    """jitter_fraction=1/12, clamp="centre": centre = (2 xloc - 1) * 2/3 with
    xloc = clip(col / 6 + U(-1/12, 1/12), 0, 1), the same draws replayed from the same seed."""
    frame, later = _frame(7), _frame(8)
    scores = window_scores(motion_map(frame, later), 7)
    for seed in range(40):
        out = sample_patch(
            frame, later, np.random.default_rng(seed), max_angle_deg=0.0, jitter_px=None,
            jitter_fraction=1 / 12, clamp="centre",
        )  # fmt: skip
        replay = np.random.default_rng(seed)
        window = choose_window(scores, 10, replay)
        assert window == out.window
        row, col = divmod(window, 7)
        shift = replay.uniform(-1 / 12, 1 / 12, size=2)
        xloc = min(max(col / 6 + shift[0], 0.0), 1.0)
        yloc = min(max(row / 6 + shift[1], 0.0), 1.0)
        expected = torch.tensor([(2 * xloc - 1) * 2 / 3, (2 * yloc - 1) * 2 / 3])
        assert torch.allclose(out.theta[:, 2], expected.float(), atol=1e-6)


def test_release_jitter_range_is_s_over_18_pixels() -> None:
    frame = _frame(9)
    rng = np.random.default_rng(10)
    offsets = []
    for _ in range(300):
        out = sample_patch(
            frame, frame, rng, max_angle_deg=0.0, jitter_px=None, jitter_fraction=1 / 12,
            clamp="centre",
        )  # fmt: skip
        centre = window_centers(7)[out.window]
        offsets.append((out.theta[:, 2] - centre) * S / 2)  # pixels
    px = torch.stack(offsets)  # (300, 2)
    assert px.abs().max() <= S / 18 + 1e-4  # 4 px at S = 72
    assert px.abs().max() > 0.9 * S / 18


def test_centre_clamp_lets_a_rotated_corner_patch_reach_out() -> None:
    theta = patch_theta(2 / 3, -2 / 3, math.radians(45), clamp="centre")
    assert torch.allclose(theta[:, 2], torch.tensor([2 / 3, -2 / 3]))  # not pulled inside
    assert _corners(theta).abs().max() > 1.1
    assert patch_theta(0.9, -0.8, 0.0, clamp="centre")[:, 2].tolist() == pytest.approx(
        [2 / 3, -2 / 3]
    )
    with pytest.raises(ValueError, match="clamp='edges'"):
        patch_theta(0.0, 0.0, 0.0, clamp="edges")


def test_exactly_one_jitter_amount() -> None:
    frame = _frame()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="exactly one of jitter_px"):
        sample_patch(frame, frame, rng, jitter_px=8.0, jitter_fraction=1 / 12)
    with pytest.raises(ValueError, match="exactly one of jitter_px"):
        sample_patch(frame, frame, rng, jitter_px=None)
    with pytest.raises(ValueError, match=">= 0"):
        sample_patch(frame, frame, rng, jitter_px=-1.0)


def test_align_corners_cut_on_a_ramp() -> None:
    """Bilinear sampling of a horizontal ramp I(u) = u is exact, so the cut shows the sampled
    pixel coordinates: cell centres u + 24 (align_corners=False) or the linspace grid mapped to
    (x + 1) / 2 * (S - 1) (align_corners=True, the release's convention)."""
    ramp = torch.arange(S, dtype=torch.float32).expand(3, S, S).clone()  # value = column
    theta = patch_theta(0.0, 0.0, 0.0)
    edges = cut_patch(ramp, theta, 24)[0, 5]  # one row, (24,)
    assert torch.allclose(edges, torch.arange(24.0) + 24, atol=1e-4)
    centres = cut_patch(ramp, theta, 24, align_corners=True)[0, 5]
    expected = (torch.linspace(-1, 1, 24) / 3 + 1) / 2 * (S - 1)
    assert torch.allclose(centres, expected, atol=1e-4)


def test_mirror_columns_places_the_mirror_window() -> None:
    target = _frame(11)
    later = target.clone()
    later[:, 30:42, 4:16] += 2.0  # motion on the left
    options = {"max_angle_deg": 0.0, "jitter_px": 0.0}
    plain = sample_patch(target, later, np.random.default_rng(12), **options)
    mirrored = sample_patch(
        target, later, np.random.default_rng(12), **options, mirror_columns=True
    )
    row, col = divmod(plain.window, 7)
    assert mirrored.window == row * 7 + (6 - col)
    assert mirrored.theta[0, 2] == pytest.approx(-plain.theta[0, 2].item(), abs=1e-6)
    assert mirrored.theta[1, 2] == pytest.approx(plain.theta[1, 2].item(), abs=1e-6)
