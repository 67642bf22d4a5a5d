"""Patch boxes from affine ``theta``: the quadrilateral a tracker step places in a frame.

``theta`` (docs/design.md) maps the patch grid ``[-1, 1]^2`` to the frame's normalised
coordinates (``align_corners=False``): ``[x_f, y_f] = theta[:, :2] @ [x_p, y_p] + theta[:, 2]``.
The patch's corners ``(+-1, +-1)`` land at ``x_f``; in pixels (continuous, 0 = left edge of the
first pixel) ``u = (x_f + 1) * W / 2``. PIL draws with integer coordinates at pixel centres, so
the drawn point is ``u - 0.5``.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from cyclecorr.ops.geometry import theta_to_box_corners


def theta_corners_px(theta: torch.Tensor | np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixel positions of the patch's four corners.

    Args:
        theta: ``(2, 3)`` or ``(N, 2, 3)`` affine maps, patch grid -> frame normalised coords.
        height: frame height in pixels.
        width: frame width in pixels.

    Returns:
        ``(4, 2)`` or ``(N, 4, 2)`` float64 ``(x, y)`` in continuous pixel units (0 = outer edge
        of the first pixel), corners in ``theta_to_box_corners``'s order (top-left, top-right,
        bottom-right, bottom-left of the patch grid).
    """
    mats = torch.as_tensor(theta.detach().cpu() if isinstance(theta, torch.Tensor) else theta)
    corners = theta_to_box_corners(mats.to(torch.float64)).numpy()  # (..., 4, 2) normalised
    return (corners + 1.0) * np.array([width, height], np.float64) / 2.0  # (..., 4, 2) pixels


def draw_quad(
    image: np.ndarray,
    corners: np.ndarray,
    color: tuple[int, int, int],
    width: int = 2,
    mark_first_edge: bool = True,
) -> np.ndarray:
    """Draw a closed quadrilateral on a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        corners: ``(4, 2)`` ``(x, y)`` continuous pixel positions (as from ``theta_corners_px``).
        color: RGB in [0, 255].
        width: line width in pixels.
        mark_first_edge: draw a dot at the first corner so rotations/flips are visible.

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    canvas = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(canvas)
    points = [(float(x) - 0.5, float(y) - 0.5) for x, y in corners]
    draw.line([*points, points[0]], fill=color, width=width)
    if mark_first_edge:
        x, y = points[0]
        radius = width + 1
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=color)
    return np.asarray(canvas).copy()


def draw_theta(
    image: np.ndarray,
    theta: torch.Tensor | np.ndarray,
    color: tuple[int, int, int],
    width: int = 2,
) -> np.ndarray:
    """Draw the box of one ``(2, 3)`` theta on a copy of an ``(H, W, 3)`` uint8 image."""
    height, image_width = image.shape[:2]
    return draw_quad(image, theta_corners_px(theta, height, image_width), color, width)
