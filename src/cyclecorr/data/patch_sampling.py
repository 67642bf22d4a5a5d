"""Where the query patch is cut from the target frame (METHOD.md section 2, "Patch").

Motion map ``M = sum_c |I_t - I_m|`` (target t, motion frame m shortly after it). Candidate
windows of side S/3 sit on a ``grid x grid`` lattice spanning the frame (window centres at
``linspace(-2/3, 2/3, grid)`` in normalised coordinates); each scores the motion summed inside
it. One of the ``top_k`` highest-scoring windows is drawn uniformly (ties broken at random), its
centre jittered by up to ``jitter_px`` pixels, and the patch rotated by ``a ~ U[-max, max]``::

    theta = [[cos a / 3, -sin a / 3, cx],
             [sin a / 3,  cos a / 3, cy]]

mapping the patch grid ``[-1, 1]^2`` to the frame's normalised coordinates (align_corners=False,
docs/design.md). The centre is then clamped so the rotated patch's corners stay inside
``[-1, 1]^2`` (for outer windows at 45 degrees this moves the centre inwards, jitter or not).
The patch is cut with ``affine_grid`` + bilinear ``grid_sample``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

PATCH_SCALE = 1.0 / 3.0


class PatchSample(NamedTuple):
    """The query patch and where it came from.

    Attributes:
        theta: ``(2, 3)`` float32, patch grid ``[-1, 1]^2`` -> target-frame normalised coords.
        patch: ``(3, P, P)`` float32, cut from the (normalised) target frame at ``theta``.
        window: index of the chosen candidate window, row-major (``row * grid + col``).
    """

    theta: Tensor
    patch: Tensor
    window: int


def motion_map(target: Tensor, motion: Tensor) -> Tensor:
    """``(H, W)`` float32: sum over channels of ``|target - motion|`` for ``(C, H, W)`` frames."""
    if target.shape != motion.shape or target.ndim != 3:
        raise ValueError(
            "patch_sampling.py: expected target and motion frames of one shape (C, H, W), found "
            f"{tuple(target.shape)} and {tuple(motion.shape)}."
        )
    return (target.float() - motion.float()).abs().sum(dim=0)


def window_centers(grid: int) -> Tensor:
    """``(grid * grid, 2)`` float32 window centres ``(x, y)`` in normalised coordinates, row-major.

    Windows of side 1/3 of the frame span it edge to edge: centres at ``linspace(-2/3, 2/3)``.
    """
    if grid < 1:
        raise ValueError(f"patch_sampling.py: patch grid must be >= 1, found {grid}.")
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


def patch_theta(center_x: float, center_y: float, angle: float) -> Tensor:
    """``(2, 3)`` float32 theta of a 1/3-scale patch centred at ``(x, y)``, rotated by ``angle``
    radians, with the centre clamped so the rotated corners stay inside ``[-1, 1]^2``."""
    cos, sin = math.cos(angle), math.sin(angle)
    half_extent = PATCH_SCALE * (abs(cos) + abs(sin))  # corner reach from the centre, per axis
    bound = max(0.0, 1.0 - half_extent)
    cx = min(max(center_x, -bound), bound)
    cy = min(max(center_y, -bound), bound)
    rows = [[cos * PATCH_SCALE, -sin * PATCH_SCALE, cx], [sin * PATCH_SCALE, cos * PATCH_SCALE, cy]]
    return torch.tensor(rows, dtype=torch.float32)


def cut_patch(frame: Tensor, theta: Tensor, size: int) -> Tensor:
    """Bilinear crop ``(C, size, size)`` of ``frame (C, H, W)`` at ``theta (2, 3)``
    (align_corners=False)."""
    out_size = [1, frame.shape[0], size, size]
    grid = F.affine_grid(theta[None].to(frame.dtype), out_size, align_corners=False)  # (1, P, P, 2)
    patch = F.grid_sample(frame[None], grid, mode="bilinear", align_corners=False)
    return patch[0]


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
    jitter_px: float = 8.0,
    patch_size: int | None = None,
) -> PatchSample:
    """Choose, place and cut the query patch.

    Args:
        target: ``(3, S, S)`` float32 target frame (ImageNet-normalised); square.
        motion_frame: ``(3, S, S)`` the frame after the target, same crop and flip.
        rng: all randomness (window, jitter, angle).
        grid: candidate windows per side (7).
        top_k: draw among this many most-moving windows (10).
        max_angle_deg: rotation drawn uniformly in ``[-max, max]`` degrees.
        jitter_px: centre jitter, uniform in ``[-jitter_px, jitter_px]`` pixels per axis.
        patch_size: P, default ``S // 3``.

    Returns:
        ``PatchSample(theta (2, 3), patch (3, P, P), window)``.
    """
    size = target.shape[-1]
    if target.ndim != 3 or target.shape[-2] != size:
        raise ValueError(
            f"patch_sampling.py: expected a square (3, S, S) target, found {tuple(target.shape)}; "
            "crop the clip square first (transforms.apply_crop_flip)."
        )
    window = choose_window(window_scores(motion_map(target, motion_frame), grid), top_k, rng)
    center = window_centers(grid)[window].tolist()
    jitter = rng.uniform(-jitter_px, jitter_px, size=2) * 2.0 / size  # pixels -> normalised
    angle = math.radians(rng.uniform(-max_angle_deg, max_angle_deg))
    theta = patch_theta(center[0] + float(jitter[0]), center[1] + float(jitter[1]), angle)
    patch = cut_patch(target.float(), theta, patch_size or size // 3)
    return PatchSample(theta=theta, patch=patch, window=window)
