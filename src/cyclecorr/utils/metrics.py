"""Theta error in crop pixels: how far a predicted patch placement is from the ground truth.

For a predicted affine map ``theta_pred`` and the ground truth ``theta_gt`` (both ``(B, 2, 3)``,
mapping the patch grid ``[-1, 1]^2`` to the frame's normalised coordinates, ``align_corners=False``
convention of docs/design.md), a fixed ``G x G`` grid of patch points ``p`` is mapped by both and
the error is the mean Euclidean distance

    err = mean_p || theta_pred p - theta_gt p ||_2 * S / 2,

where the factor ``S / 2`` turns normalised units (the crop spans 2 units) into pixels of an
``S x S`` crop. It is the validation counterpart of the grid-point loss ``l_theta`` of METHOD.md
section 4, reported in pixels and not squared so that it reads as a distance.
"""

from __future__ import annotations

import torch
from torch import Tensor


def patch_grid_points(grid_size: int = 20, device: torch.device | None = None) -> Tensor:
    """Return a ``grid_size x grid_size`` grid of points covering ``[-1, 1]^2``.

    Args:
        grid_size: points per side (METHOD.md uses 20).
        device: device of the result.

    Returns:
        ``(grid_size * grid_size, 2)`` float32 ``(x, y)`` points, row-major (y outer), with the
        corners at exactly -1 and +1.
    """
    if grid_size < 2:
        raise ValueError(
            f"cyclecorr/utils/metrics.py: grid_size must be >= 2 to span [-1, 1], got {grid_size}."
        )
    axis = torch.linspace(-1.0, 1.0, grid_size, device=device)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")  # (G, G) each
    return torch.stack([xs, ys], dim=-1).reshape(-1, 2)  # (G*G, 2)


def theta_error_px(
    theta_pred: Tensor, theta_gt: Tensor, crop_size: int, grid_size: int = 20
) -> Tensor:
    """Mean distance, in crop pixels, between grid points mapped by two affine maps.

    Args:
        theta_pred: ``(..., 2, 3)`` predicted placement(s), patch grid -> frame normalised coords.
        theta_gt: ``(..., 2, 3)`` ground truth, broadcastable against ``theta_pred``.
        crop_size: side ``S`` of the square training crop in pixels.
        grid_size: points per side of the patch grid.

    Returns:
        float32 tensor with the broadcast leading shape ``(...)``: the per-placement mean
        Euclidean error in pixels (>= 0).
    """
    if theta_pred.shape[-2:] != (2, 3) or theta_gt.shape[-2:] != (2, 3):
        raise ValueError(
            "cyclecorr/utils/metrics.py: theta_error_px expects (..., 2, 3) affine maps, got "
            f"{tuple(theta_pred.shape)} and {tuple(theta_gt.shape)}; pass Tracker thetas."
        )
    points = patch_grid_points(grid_size, device=theta_pred.device).to(theta_pred.dtype)
    diff = (theta_pred - theta_gt).float()  # (..., 2, 3): a linear map of the difference
    # (..., 2, 2) x (N, 2) -> (..., N, 2); plus translation (..., 1, 2)
    moved = torch.einsum("...ij,nj->...ni", diff[..., :2], points.float())
    moved = moved + diff[..., None, :, 2]
    return moved.norm(dim=-1).mean(dim=-1) * (crop_size / 2.0)
