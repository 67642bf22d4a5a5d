"""Grid-point distance between two patch placements, ``l_theta`` (METHOD.md section 4).

    l_theta(theta_a, theta_b) = mean_p || theta_a(p) - theta_b(p) ||^2,

over a fixed ``G x G`` grid of points ``p`` spanning ``[-1, 1]^2`` (G = 20), i.e. the mean squared
distance, in frame normalised units, between the two placements of the same patch points. A pure
translation difference ``d`` gives ``|d|^2``; a rotation difference ``a`` at scale ``s`` gives
``2 (1 - cos a) s^2 mean_p |p|^2``.
"""

from __future__ import annotations

from torch import Tensor

from cyclecorr.ops.geometry import grid_displacements


def theta_loss(theta_a: Tensor, theta_b: Tensor, grid: int = 20) -> Tensor:
    """Mean squared distance of grid points mapped by two affine maps.

    Args:
        theta_a: ``(..., 2, 3)`` placements, patch grid -> frame normalised coordinates.
        theta_b: ``(..., 2, 3)``, broadcastable against ``theta_a``.
        grid: points per side of the patch grid.

    Returns:
        ``(...)`` non-negative loss per placement (``(B,)`` for ``(B, 2, 3)`` inputs).
    """
    return grid_displacements(theta_a, theta_b, grid).pow(2).sum(dim=-1).mean(dim=-1)
