"""Affine patch geometry: the ``theta`` that places a patch in a frame (METHOD.md section 3).

``theta`` is ``(B, 2, 3)`` and maps the patch's normalised grid ``[-1, 1]^2`` to the frame's
normalised coordinates (``affine_grid`` / ``grid_sample`` convention with ``align_corners=False``,
docs/design.md): ``[x_f, y_f]^T = theta[:, :, :2] @ [x_p, y_p]^T + theta[:, :, 2]``. The tracker
predicts ``(tx, ty, a)`` and the scale is fixed (1/3 of the frame side), so

    theta = [[s cos a, -s sin a, tx], [s sin a, s cos a, ty]].

The helpers here build, apply, compose and invert such maps, place a sampled patch
(``patch_theta``), measure how far two placements are apart (``grid_displacements``: the theta
loss and the pixel error are both built on it) and give the boxes to draw. This module is the one
home of the patch conventions (scale, stride, the theta grid); data, models, losses and viz import
them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

PATCH_SCALE = 1.0 / 3.0  # patch side / frame side (80 px of a 240 px crop)
FEATURE_STRIDE = 8  # input pixels per encoder feature cell
CENTRE_RANGE = 1.0 - PATCH_SCALE  # centres of in-frame unrotated patches span [-2/3, 2/3]
CLAMPS = ("corners", "centre")


def theta_from_params(params: Tensor, scale: float = PATCH_SCALE) -> Tensor:
    """Build the fixed-scale rotation + translation map from ``(tx, ty, angle)``.

    Args:
        params: ``(B, 3)`` float, columns ``tx, ty`` (frame normalised units) and ``angle``
            (radians; positive turns +x towards +y, i.e. clockwise on screen since y points down).
        scale: patch side as a fraction of the frame side (1/3 in TimeCycle).

    Returns:
        ``(B, 2, 3)`` theta, patch grid ``[-1, 1]^2`` -> frame normalised coordinates.
    """
    if params.ndim != 2 or params.shape[1] != 3:
        raise ValueError(
            f"{__name__}: theta_from_params expects params of shape (B, 3) = "
            f"(tx, ty, angle), got {tuple(params.shape)}; reshape the localizer output."
        )
    tx, ty, angle = params.unbind(dim=1)  # (B,) each
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    row_x = torch.stack([cos, -sin, tx], dim=1)  # (B, 3)
    row_y = torch.stack([sin, cos, ty], dim=1)  # (B, 3)
    return torch.stack([row_x, row_y], dim=1)  # (B, 2, 3)


def identity_theta(
    batch: int, scale: float = PATCH_SCALE, device: torch.device | None = None
) -> Tensor:
    """``(batch, 2, 3)`` theta of a centred, unrotated patch: ``[[s, 0, 0], [0, s, 0]]``."""
    return theta_from_params(torch.zeros(batch, 3, device=device), scale)


def grid_points(n: int = 20, device: torch.device | None = None) -> Tensor:
    """A regular ``n x n`` grid of points spanning ``[-1, 1]^2``, corners included.

    Args:
        n: points per side (the theta loss uses 20).
        device: device of the result.

    Returns:
        ``(n * n, 2)`` float32 ``(x, y)`` points, row-major: y is the outer index, x varies fastest.
    """
    if n < 2:
        raise ValueError(f"{__name__}: grid_points needs n >= 2, got n={n}.")
    axis = torch.linspace(-1.0, 1.0, n, device=device)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")  # (n, n) each
    return torch.stack([xs, ys], dim=-1).reshape(n * n, 2)  # (n*n, 2)


def cell_centers(height: int, width: int, device: torch.device | None = None) -> Tensor:
    """Normalised centres of the cells of an ``height x width`` map (``align_corners=False``).

    Returns:
        ``(height * width, 2)`` float32 ``(x, y)``, row-major like ``Tensor.flatten`` of
        ``(H, W)``: entry ``v * width + u`` is ``((2u + 1) / W - 1, (2v + 1) / H - 1)``.
    """
    xs = (2 * torch.arange(width, device=device, dtype=torch.float32) + 1) / width - 1
    ys = (2 * torch.arange(height, device=device, dtype=torch.float32) + 1) / height - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    return torch.stack([xx, yy], dim=-1).reshape(height * width, 2)  # (H*W, 2)


def transform_points(theta: Tensor, points: Tensor) -> Tensor:
    """Map points through ``theta``.

    Args:
        theta: ``(..., 2, 3)`` affine maps.
        points: ``(N, 2)`` shared points or ``(..., N, 2)`` per-map points, ``(x, y)``.

    Returns:
        ``(..., N, 2)`` mapped points ``theta[..., :2] @ p + theta[..., 2]``.
    """
    # (..., 2, 2) x (..., N, 2) -> (..., N, 2)
    linear = torch.einsum("...ij,...nj->...ni", theta[..., :2], points.to(theta.dtype))
    return linear + theta[..., None, :, 2]  # translation (..., 1, 2)


def compose(outer: Tensor, inner: Tensor) -> Tensor:
    """The map ``p -> outer(inner(p))``.

    Args:
        outer: ``(..., 2, 3)`` applied second.
        inner: ``(..., 2, 3)`` applied first.

    Returns:
        ``(..., 2, 3)`` composed map.
    """
    linear = outer[..., :2] @ inner[..., :2]  # (..., 2, 2)
    shift = (outer[..., :2] @ inner[..., 2:]).squeeze(-1) + outer[..., 2]  # (..., 2)
    return torch.cat([linear, shift[..., None]], dim=-1)  # (..., 2, 3)


def invert(theta: Tensor) -> Tensor:
    """Inverse affine map: frame normalised coordinates -> patch grid coordinates.

    Args:
        theta: ``(..., 2, 3)`` with an invertible linear part.

    Returns:
        ``(..., 2, 3)`` float32 (or float64) ``theta^-1`` so that ``compose(invert(theta), theta)``
        is the identity; half-precision input (bf16 autocast) is inverted in float32.
    """
    if theta.dtype in (torch.float16, torch.bfloat16):
        theta = theta.float()  # linalg.inv has no half-precision kernels
    inv_linear = torch.linalg.inv(theta[..., :2])  # (..., 2, 2)
    shift = -(inv_linear @ theta[..., 2:]).squeeze(-1)  # (..., 2)
    return torch.cat([inv_linear, shift[..., None]], dim=-1)  # (..., 2, 3)


def patch_theta(center_x: float, center_y: float, angle: float, clamp: str = "corners") -> Tensor:
    """``(2, 3)`` float32 theta of a 1/3-scale patch centred at ``(x, y)`` (normalised), rotated
    by ``angle`` radians, the centre clamped per ``clamp``: ``"corners"`` keeps the rotated
    corners inside ``[-1, 1]^2``, ``"centre"`` (the release) keeps the centre in ``[-2/3, 2/3]^2``.
    """
    if clamp not in CLAMPS:
        raise ValueError(
            f"{__name__}: clamp={clamp!r}; expected one of {CLAMPS} (set data.builder.clamp)."
        )
    cos, sin = math.cos(angle), math.sin(angle)
    if clamp == "corners":
        bound = max(0.0, 1.0 - PATCH_SCALE * (abs(cos) + abs(sin)))  # corner reach per axis
    else:
        bound = CENTRE_RANGE
    cx = min(max(center_x, -bound), bound)
    cy = min(max(center_y, -bound), bound)
    # theta_from_params's layout, in Python floats: the sampled theta is exact before float32
    rows = [[cos * PATCH_SCALE, -sin * PATCH_SCALE, cx], [sin * PATCH_SCALE, cos * PATCH_SCALE, cy]]
    return torch.tensor(rows, dtype=torch.float32)


def grid_displacements(theta_a: Tensor, theta_b: Tensor, grid: int = 20) -> Tensor:
    """How far each point of a ``grid x grid`` patch grid moves from ``theta_b`` to ``theta_a``.

    Args:
        theta_a: ``(..., 2, 3)`` placements, patch grid -> frame normalised coordinates.
        theta_b: ``(..., 2, 3)``, broadcastable against ``theta_a``.
        grid: points per side (``grid_points``; the theta loss uses 20).

    Returns:
        ``(..., grid * grid, 2)`` ``theta_a(p) - theta_b(p)`` in frame normalised units.
    """
    if theta_a.shape[-2:] != (2, 3) or theta_b.shape[-2:] != (2, 3):
        raise ValueError(
            f"{__name__}: expected (..., 2, 3) affine maps, got "
            f"{tuple(theta_a.shape)} and {tuple(theta_b.shape)}; pass Tracker thetas."
        )
    diff = theta_a - theta_b  # (..., 2, 3): the difference of two affine maps is affine
    points = grid_points(grid, device=diff.device).to(diff.dtype)  # (G*G, 2)
    # (..., 2, 2) x (G*G, 2) -> (..., G*G, 2), plus the translation (..., 1, 2)
    return points @ diff[..., :2].transpose(-1, -2) + diff[..., None, :, 2]


def theta_error_px(theta_pred: Tensor, theta_gt: Tensor, crop_size: int, grid: int = 20) -> Tensor:
    """Mean distance, in crop pixels, between grid points mapped by two placements.

    ``mean_p || theta_pred p - theta_gt p ||_2 * S / 2``: the validation counterpart of the
    grid-point loss, in pixels of an ``S x S`` crop (the crop spans 2 normalised units) and not
    squared, so that it reads as a distance.

    Args:
        theta_pred: ``(..., 2, 3)`` predicted placement(s).
        theta_gt: ``(..., 2, 3)`` ground truth, broadcastable against ``theta_pred``.
        crop_size: side ``S`` of the square training crop in pixels.
        grid: points per side of the patch grid.

    Returns:
        float32 ``(...)``: the per-placement mean Euclidean error in pixels (>= 0).
    """
    moved = grid_displacements(theta_pred.float(), theta_gt.float(), grid)  # (..., G*G, 2)
    return moved.norm(dim=-1).mean(dim=-1) * (crop_size / 2.0)


def theta_to_box_corners(theta: Tensor) -> Tensor:
    """Corners of the patch in frame normalised coordinates, for drawing.

    Args:
        theta: ``(..., 2, 3)``.

    Returns:
        ``(..., 4, 2)`` ``(x, y)`` corners in drawing order: top-left, top-right, bottom-right,
        bottom-left of the patch grid. Pixel ``x_px = (x + 1) * W / 2 - 0.5`` (pixel centres).
    """
    corners = torch.tensor(
        [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]], device=theta.device
    )  # (4, 2)
    return transform_points(theta, corners)
