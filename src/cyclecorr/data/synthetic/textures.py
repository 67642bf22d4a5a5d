"""Appearance of generated video: procedural colour textures, silhouettes, bilinear sampling.

The synthetic scene (`cyclecorr.data.synthetic.scene`) is drawn by inverse warping: every output
pixel is mapped back into an object's own texture and sampled bilinearly. This module holds the
pieces that do not depend on time:

- ``random_texture``: smooth, periodic colour texture = base colour + multi-octave value noise
  + one oriented stripe pattern. Structure lives at 4-32 px, so a stride-8 encoder can find
  correspondences by appearance alone. Textures tile exactly (period = their size), which lets a
  background pan forever without an edge.
- ``Shape``: an object's silhouette in its local frame (ellipse, rounded rectangle, regular
  polygon), tested analytically so masks and occlusion are exact.
- ``bilinear_sample``: sampling at continuous pixel coordinates.

Pixel convention (used by the whole synthetic package): ``x`` is the 0-based column index of a
pixel *centre*, ``y`` the row index; pixel ``(r, c)`` covers ``[c - 0.5, c + 0.5]`` horizontally.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SHAPE_KINDS = ("ellipse", "rounded_rect", "polygon")
_ROUNDED_RECT_POWER = 5.0  # superellipse exponent: 2 is an ellipse, large is a sharp rectangle


class Shape(NamedTuple):
    """Silhouette of an object in its local frame (pixels at scale 1, origin at the centre).

    Attributes:
        kind: one of ``SHAPE_KINDS``.
        half_width: half extent along local u (pixels, > 0).
        half_height: half extent along local v (pixels, > 0).
        sides: number of polygon sides (used only by ``"polygon"``).
    """

    kind: str
    half_width: float
    half_height: float
    sides: int = 5

    @property
    def radius(self) -> float:
        """Radius (pixels) of a circle around the origin that contains the whole shape."""
        return float(np.hypot(self.half_width, self.half_height))

    def contains(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Whether local points lie inside the shape.

        Args:
            u: local x coordinates, any shape, float.
            v: local y coordinates, same shape as ``u``.

        Returns:
            bool array of the broadcast shape of ``u`` and ``v``.
        """
        un = np.abs(u) / self.half_width
        vn = np.abs(v) / self.half_height
        if self.kind == "ellipse":
            return np.asarray(un**2 + vn**2 <= 1.0)
        if self.kind == "rounded_rect":
            return np.asarray(un**_ROUNDED_RECT_POWER + vn**_ROUNDED_RECT_POWER <= 1.0)
        if self.kind == "polygon":
            return _inside_regular_polygon(u / self.half_width, v / self.half_height, self.sides)
        raise ValueError(
            f"{__name__}: Shape.kind must be one of {SHAPE_KINDS}, found {self.kind!r}; "
            "fix the scene description."
        )


def _inside_regular_polygon(un: np.ndarray, vn: np.ndarray, sides: int) -> np.ndarray:
    """Inside test for a regular polygon with vertices on the unit circle (one vertex at +v)."""
    inside = np.ones(np.broadcast(un, vn).shape, dtype=bool)
    apothem = np.cos(np.pi / sides)
    for k in range(sides):
        normal = 2.0 * np.pi * (k + 0.5) / sides + np.pi / 2.0
        inside &= un * np.cos(normal) + vn * np.sin(normal) <= apothem
    return inside


def bilinear_sample(image: np.ndarray, x: np.ndarray, y: np.ndarray, wrap: bool) -> np.ndarray:
    """Sample an image bilinearly at continuous pixel-centre coordinates.

    Args:
        image: ``(h, w, C)`` float32.
        x: ``(M,)`` column coordinates (0 = centre of column 0).
        y: ``(M,)`` row coordinates.
        wrap: if True the image is treated as periodic (a tile); otherwise coordinates are
            clamped to the border pixels.

    Returns:
        ``(M, C)`` float32 samples.
    """
    h, w = image.shape[:2]
    if not wrap:
        x = np.clip(x, 0.0, w - 1.0)
        y = np.clip(y, 0.0, h - 1.0)
    x0f, y0f = np.floor(x), np.floor(y)
    fx = (x - x0f)[:, None].astype(np.float32)  # (M, 1)
    fy = (y - y0f)[:, None].astype(np.float32)  # (M, 1)
    x0, y0 = x0f.astype(np.int64), y0f.astype(np.int64)
    if wrap:
        x0, y0 = x0 % w, y0 % h
        x1, y1 = (x0 + 1) % w, (y0 + 1) % h
    else:
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx  # (M, C)
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx  # (M, C)
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _periodic_neighbours(size: int, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice neighbours ``(lower, upper)`` and weight of ``upper`` for ``size`` output pixel
    centres over a periodic lattice of ``grid`` values; one output period spans the lattice."""
    pos = (np.arange(size) + 0.5) * grid / size - 0.5  # lattice coordinate of each pixel
    lower = np.floor(pos)
    weight = (pos - lower).astype(np.float32)
    lower_index = lower.astype(np.int64) % grid
    return lower_index, (lower_index + 1) % grid, weight


def value_noise(
    height: int, width: int, cell_px: float, channels: int, rng: np.random.Generator
) -> np.ndarray:
    """Periodic value noise: a random lattice upsampled bilinearly (separably).

    Args:
        height: output rows.
        width: output columns.
        cell_px: approximate lattice spacing in pixels (feature size of the noise).
        channels: number of independent channels.
        rng: randomness source.

    Returns:
        ``(height, width, channels)`` float32 in [0, 1], periodic with period (height, width).
    """
    grid_h = max(1, round(height / cell_px))
    grid_w = max(1, round(width / cell_px))
    lattice = rng.random((grid_h, grid_w, channels), dtype=np.float32)
    return upsample_periodic(lattice, height, width)  # (h, w, C)


def upsample_periodic(lattice: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinearly upsample a periodic lattice.

    Args:
        lattice: ``(gh, gw, C)`` float32 values on a periodic lattice.
        height: output rows.
        width: output columns.

    Returns:
        ``(height, width, C)`` float32; one output period covers the lattice exactly, so the
        output tiles seamlessly.
    """
    # Separable linear interpolation by gathers along axis 0 (whole contiguous rows): as fast
    # as a matrix product here, and it starts no BLAS threads inside data-loader workers.
    low, high, weight = _periodic_neighbours(width, lattice.shape[1])
    by_column = np.ascontiguousarray(lattice.transpose(1, 0, 2))  # (gw, gh, C)
    cols = by_column[low] + weight[:, None, None] * (by_column[high] - by_column[low])  # (w, gh, C)
    cols = np.ascontiguousarray(cols.transpose(1, 0, 2))  # (gh, w, C)
    low, high, weight = _periodic_neighbours(height, lattice.shape[0])
    return cols[low] + weight[:, None, None] * (cols[high] - cols[low])  # (h, w, C)


def _stripes(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Periodic sinusoidal stripes with integer wave numbers (so they tile), in [0, 1]."""
    max_kx = max(1, width // 10)
    max_ky = max(1, height // 10)
    kx = int(rng.integers(-max_kx, max_kx + 1))
    ky = int(rng.integers(1, max_ky + 1))
    phase_x = 2.0 * np.pi * kx * np.arange(width, dtype=np.float32) / width  # (w,)
    phase_y = 2.0 * np.pi * ky * np.arange(height, dtype=np.float32) / height  # (h,)
    phase = phase_y[:, None] + phase_x[None, :] + np.float32(rng.uniform(0, 2 * np.pi))  # (h, w)
    return (0.5 + 0.5 * np.sin(phase)).astype(np.float32)  # (h, w)


def random_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A colourful, smooth, periodic texture.

    Base colour + colour value noise at cell sizes 32, 16, 8 and 4 px + stripes in a random
    colour and orientation; each draw gives a clearly different look.

    Args:
        height: rows (pixels, >= 1).
        width: columns (pixels, >= 1).
        rng: randomness source.

    Returns:
        ``(height, width, 3)`` float32 RGB in [0, 255], periodic with period (height, width).
    """
    base = rng.uniform(40.0, 215.0, size=3).astype(np.float32)
    texture = np.empty((height, width, 3), dtype=np.float32)
    texture[:] = base
    for cell_px, amplitude in ((32.0, 80.0), (16.0, 80.0), (8.0, 90.0), (4.0, 60.0)):
        grid = (max(1, round(height / cell_px)), max(1, round(width / cell_px)), 3)
        # Upsampling is linear: scale the small lattice, not the full-size noise.
        lattice = (rng.random(grid, dtype=np.float32) - 0.5) * (amplitude * rng.uniform(0.5, 1.0))
        texture += upsample_periodic(lattice, height, width)  # (h, w, 3)
    stripe_colour = rng.uniform(-1.0, 1.0, size=3).astype(np.float32) * rng.uniform(40.0, 90.0)
    texture += _stripes(height, width, rng)[..., None] * stripe_colour.astype(np.float32)
    return np.clip(texture, 0.0, 255.0, out=texture)
