"""Affine crops: sampling an image or feature map on a patch grid placed by ``theta``.

``sampling_grid`` is the one home of the sampling convention (``affine_grid`` with an explicit
``align_corners``, and the release's 227/210 translation quirk as an option), shared by the
ground-truth patch cut (``cyclecorr.data.timecycle.patch_sampling``), the tracker's feature crop
(``cyclecorr.models.feature_sampler``) and the similarity loss's inlier mask; ``affine_crop`` is the
bilinear crop with zeros padding.

``align_corners=False`` (the project convention, docs/design.md): normalised coordinates address
cell *edges*, and at the fixed scale 1/3 the centre of patch cell ``u`` lands exactly on the
centre of frame cell ``u + h`` for a ``3h`` frame. ``True`` is the release's (it predates the
flag): ``-1``/``+1`` are the border cells' centres.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

QUIRK_TRANSLATION_SCALE = 227.0 / 210.0


def sampling_grid(
    theta: Tensor,
    out_hw: tuple[int, int],
    align_corners: bool = False,
    translation_quirk: bool = False,
) -> Tensor:
    """Frame positions that ``theta`` maps the ``h x w`` patch grid to (``grid_sample`` input).

    The one home of the sampling convention, shared by the crop below and the similarity loss's
    inlier mask (``cyclecorr.losses.similarity``): ``affine_grid`` with ``align_corners`` (patch
    grid points at ``linspace(-1, 1, h)`` when ``True``, at cell centres when ``False``), the
    translation scaled by 227/210 when ``translation_quirk`` is on (the release's grid generator
    divides the base grid by 227/210, applies ``theta``, multiplies by 227/210).

    Args:
        theta: ``(B, 2, 3)`` patch grid ``[-1, 1]^2`` -> frame normalised coordinates.
        out_hw: ``(h, w)`` patch grid.
        align_corners: ``affine_grid`` convention.
        translation_quirk: scale the translation by 227/210 (release quirk).

    Returns:
        ``(B, h, w, 2)`` ``(x, y)`` frame normalised coordinates, row-major patch cells.
    """
    if theta.ndim != 3 or theta.shape[1:] != (2, 3):
        raise ValueError(
            f"{__name__}: sampling_grid expects theta (B, 2, 3), got {tuple(theta.shape)}."
        )
    if translation_quirk:
        scale = theta.new_tensor([1.0, 1.0, QUIRK_TRANSLATION_SCALE])  # (3,) column scales
        theta = theta * scale
    size = [theta.shape[0], 1, *out_hw]  # affine_grid reads only N, H, W
    return F.affine_grid(theta, size, align_corners=align_corners)  # (B, h, w, 2)


def affine_crop(
    images: Tensor,
    theta: Tensor,
    out_hw: tuple[int, int],
    align_corners: bool = False,
    translation_quirk: bool = False,
) -> Tensor:
    """Bilinear crop of ``images`` on the ``out_hw`` patch grid placed by ``theta``.

    Args:
        images: ``(B, C, H, W)`` images or feature maps.
        theta: ``(B, 2, 3)`` patch grid ``[-1, 1]^2`` -> normalised coordinates of ``images``.
        out_hw: ``(h, w)`` of the crop.
        align_corners: ``affine_grid`` / ``grid_sample`` convention.
        translation_quirk: the release's 227/210 translation scaling.

    Returns:
        ``(B, C, h, w)``, zeros where the grid leaves the image.
    """
    grid = sampling_grid(theta.to(images.dtype), out_hw, align_corners, translation_quirk)
    return F.grid_sample(
        images, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners
    )  # (B, C, h, w)
