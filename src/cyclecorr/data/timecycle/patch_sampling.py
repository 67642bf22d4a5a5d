"""Where the query patch is cut from the target frame (METHOD.md section 2, "Patch").

Motion map ``M = sum_c |I_t - I_m|`` (target t, motion frame m shortly after it). Candidate
windows of side S/3 sit on a ``grid x grid`` lattice spanning the frame (window centres at
``linspace(-2/3, 2/3, grid)`` in normalised coordinates); each scores the motion summed inside
it. One of the ``top_k`` highest-scoring windows is drawn uniformly (ties broken at random), its
centre jittered, and the patch rotated by ``a ~ U[-max, max]``::

    theta = [[cos a / 3, -sin a / 3, cx],
             [sin a / 3,  cos a / 3, cy]]

mapping the patch grid ``[-1, 1]^2`` to the frame's normalised coordinates (``align_corners=False``
by default, docs/design.md; ``align_corners=True`` is the release's convention, where ``+-1`` are
the border pixels' centres). The patch is cut with ``affine_grid`` + bilinear ``grid_sample``
under the same ``align_corners`` (never with the sampler's 227/210 quirk: the release cuts its
ground-truth patch without it).

Jitter, per axis, uniform, exactly one of:

- ``jitter_px = j`` (our default, 8): ``U(-j, j)`` crop pixels, i.e. ``U(-2j/S, 2j/S)`` normalised;
- ``jitter_fraction = f`` (the release, ``f = 1/12``): ``U(-f, f)`` of the window-position range.
  The release places window ``col`` at ``xloc = col / (grid - 1)`` in ``[0, 1]``, jitters
  ``xloc`` by ``U(-f, f)`` and sets the centre to ``(2 xloc - 1) * 2/3``; so the jitter is
  ``U(-4f/3, 4f/3)`` normalised = ``U(-2fS/3, 2fS/3)`` px (``+-S/18`` px, 13.3 px at S = 240).

Clamp (``clamp``): ``"corners"`` (ours) moves the centre so the rotated patch's corners stay inside
``[-1, 1]^2`` (for outer windows at 45 degrees this moves the centre inwards, jitter or not);
``"centre"`` (the release: ``xloc`` clamped to ``[0, 1]``) clamps only the centre to the window
range ``[-2/3, 2/3]``, so a rotated or jittered outer patch may reach past the frame edge (zeros
padding there).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cyclecorr.ops.crop import affine_crop
from cyclecorr.ops.geometry import CENTRE_RANGE, PATCH_SCALE, patch_theta


class PatchSample(NamedTuple):
    """The query patch and where it came from.

    Attributes:
        theta: ``(2, 3)`` float32, patch grid ``[-1, 1]^2`` -> target-frame normalised coords.
        patch: ``(3, P, P)`` float32, cut from the (normalised) target frame at ``theta``.
        window: index of the window the patch was placed at, row-major (``row * grid + col``).
    """

    theta: Tensor
    patch: Tensor
    window: int


def motion_map(target: Tensor, motion: Tensor) -> Tensor:
    """``(H, W)`` float32: sum over channels of ``|target - motion|`` for ``(C, H, W)`` frames."""
    if target.shape != motion.shape or target.ndim != 3:
        raise ValueError(
            f"{__name__}: expected target and motion frames of one shape (C, H, W), found "
            f"{tuple(target.shape)} and {tuple(motion.shape)}."
        )
    return (target.float() - motion.float()).abs().sum(dim=0)


def window_centers(grid: int) -> Tensor:
    """``(grid * grid, 2)`` float32 window centres ``(x, y)`` in normalised coordinates, row-major.

    Windows of side 1/3 of the frame span it edge to edge: centres at ``linspace(-2/3, 2/3)``.
    """
    if grid < 1:
        raise ValueError(f"{__name__}: patch grid must be >= 1, found {grid}.")
    steps = torch.linspace(-2.0 / 3.0, 2.0 / 3.0, grid) if grid > 1 else torch.zeros(1)
    ys, xs = torch.meshgrid(steps, steps, indexing="ij")  # (grid, grid) each
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (grid * grid, 2)


def window_scores(motion: Tensor, grid: int) -> Tensor:
    """Motion summed inside each candidate window.

    Args:
        motion: ``(S, S)`` motion map.
        grid: windows per side.

    Returns:
        ``(grid * grid,)`` float64, row-major; a window covers the pixels whose centres lie in
        its ``[left, left + S/3)`` span (edges rounded to whole pixels).
    """
    size = motion.shape[-1]
    side = size * PATCH_SCALE
    starts = np.linspace(0.0, size - side, grid) if grid > 1 else np.array([(size - side) / 2])
    lo = np.floor(starts + 0.5).astype(np.int64)
    hi = np.floor(starts + side + 0.5).astype(np.int64)
    integral = F.pad(motion.double().cumsum(0).cumsum(1), (1, 0, 1, 0))  # (S + 1, S + 1)
    scores = torch.empty(grid, grid, dtype=torch.float64)
    for r in range(grid):
        for c in range(grid):
            y0, y1, x0, x1 = lo[r], hi[r], lo[c], hi[c]
            scores[r, c] = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return scores.reshape(-1)  # (grid * grid,)


def cut_patch(frame: Tensor, theta: Tensor, size: int, align_corners: bool = False) -> Tensor:
    """Bilinear crop ``(C, size, size)`` of ``frame (C, H, W)`` at ``theta (2, 3)``, zeros padding,
    under the ``align_corners`` convention (no translation quirk)."""
    return affine_crop(frame[None], theta[None], (size, size), align_corners)[0]


def check_jitter(jitter_px: float | None, jitter_fraction: float | None) -> None:
    """Raise a clear error unless exactly one non-negative jitter amount is given."""
    if (jitter_px is None) == (jitter_fraction is None):
        raise ValueError(
            f"{__name__}: expected exactly one of jitter_px (pixels) and jitter_fraction "
            f"(of the window-position range), found jitter_px={jitter_px}, "
            f"jitter_fraction={jitter_fraction}; set the other to null."
        )
    amount = jitter_px if jitter_px is not None else jitter_fraction
    if amount is not None and amount < 0:
        raise ValueError(f"{__name__}: the jitter must be >= 0, found {amount}.")


def draw_jitter(
    size: int, jitter_px: float | None, jitter_fraction: float | None, rng: np.random.Generator
) -> np.ndarray:
    """``(2,)`` centre jitter ``(dx, dy)`` in normalised units (see the module docstring)."""
    if jitter_fraction is not None:
        return rng.uniform(-jitter_fraction, jitter_fraction, size=2) * 2.0 * CENTRE_RANGE
    amount = jitter_px if jitter_px is not None else 0.0
    return rng.uniform(-amount, amount, size=2) * 2.0 / size  # pixels -> normalised


def choose_window(scores: Tensor, top_k: int, rng: np.random.Generator) -> int:
    """Uniform draw among the ``top_k`` highest scores; ties are ordered at random so that a
    static clip (all scores equal) does not always pick the top rows."""
    values = scores.numpy()
    shuffled = rng.permutation(values.shape[0])
    order = shuffled[np.argsort(-values[shuffled], kind="stable")]
    k = min(max(top_k, 1), values.shape[0])
    return int(order[rng.integers(0, k)])


def sample_patch(
    target: Tensor,
    motion_frame: Tensor,
    rng: np.random.Generator,
    grid: int = 7,
    top_k: int = 10,
    max_angle_deg: float = 45.0,
    jitter_px: float | None = 8.0,
    patch_size: int | None = None,
    jitter_fraction: float | None = None,
    clamp: str = "corners",
    align_corners: bool = False,
    mirror_columns: bool = False,
) -> PatchSample:
    """Choose, place and cut the query patch.

    Args:
        target: ``(3, S, S)`` float32 target frame (ImageNet-normalised); square.
        motion_frame: ``(3, S, S)`` the frame after the target, same crop and flip.
        rng: all randomness (window, jitter, angle).
        grid: candidate windows per side (7).
        top_k: draw among this many most-moving windows (10).
        max_angle_deg: rotation drawn uniformly in ``[-max, max]`` degrees.
        jitter_px: centre jitter, uniform in ``[-jitter_px, jitter_px]`` crop pixels per axis;
            ``None`` when ``jitter_fraction`` is given.
        patch_size: P, default ``S // 3``.
        jitter_fraction: centre jitter, uniform in ``+-jitter_fraction`` of the window-position
            range per axis (the release: 1/12, i.e. ``+-S/18`` px); requires ``jitter_px=None``.
        clamp: ``"corners"`` (rotated corners inside the frame) or ``"centre"`` (the release:
            centre inside ``[-2/3, 2/3]^2``).
        align_corners: convention of ``theta`` and of the cut (the release: ``True``).
        mirror_columns: place the patch at the mirror-image column ``grid - 1 - col`` of the
            chosen window (what the release does on flipped clips, see ``SampleBuilder``).

    Returns:
        ``PatchSample(theta (2, 3), patch (3, P, P), window)``.
    """
    size = target.shape[-1]
    if target.ndim != 3 or target.shape[-2] != size:
        raise ValueError(
            f"{__name__}: expected a square (3, S, S) target, found {tuple(target.shape)}; "
            "crop the clip square first (transforms.apply_crop_flip)."
        )
    check_jitter(jitter_px, jitter_fraction)
    window = choose_window(window_scores(motion_map(target, motion_frame), grid), top_k, rng)
    if mirror_columns:
        row, col = divmod(window, grid)
        window = row * grid + (grid - 1 - col)
    center = window_centers(grid)[window].tolist()
    jitter = draw_jitter(size, jitter_px, jitter_fraction, rng)  # (2,) normalised
    angle = math.radians(rng.uniform(-max_angle_deg, max_angle_deg))
    theta = patch_theta(center[0] + float(jitter[0]), center[1] + float(jitter[1]), angle, clamp)
    patch = cut_patch(target.float(), theta, patch_size or size // 3, align_corners)
    return PatchSample(theta=theta, patch=patch, window=window)
