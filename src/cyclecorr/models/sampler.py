"""Differentiable bilinear crop of frame features at ``theta`` (METHOD.md section 3, "Sampler").

``crop = normalize_C( grid_sample(x_I, affine_grid(theta, (h, w))) )``: the raw frame features are
sampled on the patch grid mapped by ``theta`` and the crop is L2-normalised over channels.

``align_corners`` is explicit and defaults to ``False`` (the project convention, docs/design.md):
then normalised coordinates address cell *edges*, and at the fixed scale 1/3 the centre of patch
cell ``u`` lands exactly on the centre of frame cell ``u + h`` for a ``3h`` frame, so a centred,
unrotated crop copies the middle ``h x h`` block of cells without blurring. With ``True`` the
centres would not line up (``-1``/``+1`` would be the border cells' centres).

``translation_quirk`` reproduces an inherited quirk of the release, which predates PyTorch's
``align_corners`` change and scales the translation by 227/210 when sampling. It only changes where
the crop is taken, not the ``theta`` the tracker reports. Default off.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from cyclecorr.ops.affinity import l2_normalize

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
            "cyclecorr/models/sampler.py: sampling_grid expects theta (B, 2, 3), got "
            f"{tuple(theta.shape)}."
        )
    if translation_quirk:
        scale = theta.new_tensor([1.0, 1.0, QUIRK_TRANSLATION_SCALE])  # (3,) column scales
        theta = theta * scale
    size = [theta.shape[0], 1, *out_hw]  # affine_grid reads only N, H, W
    return F.affine_grid(theta, size, align_corners=align_corners)  # (B, h, w, 2)


def crop_features(
    frame_feat: Tensor,
    theta: Tensor,
    out_hw: tuple[int, int],
    align_corners: bool = False,
    translation_quirk: bool = False,
) -> Tensor:
    """Bilinearly crop ``frame_feat`` at ``theta`` and L2-normalise the crop over channels.

    Args:
        frame_feat: ``(B, C, H, W)`` raw frame features.
        theta: ``(B, 2, 3)`` patch grid ``[-1, 1]^2`` -> frame normalised coordinates.
        out_hw: ``(h, w)`` of the crop.
        align_corners: ``grid_sample``/``affine_grid`` convention (see the module docstring).
        translation_quirk: scale the translation by 227/210 when sampling (release quirk).

    Returns:
        ``(B, C, h, w)`` crop, unit norm over C at every position (zero where the grid leaves the
        frame entirely: zeros padding).
    """
    if theta.shape != (frame_feat.shape[0], 2, 3):
        raise ValueError(
            "cyclecorr/models/sampler.py: crop_features expects theta (B, 2, 3) matching "
            f"frame_feat (B, C, H, W)={tuple(frame_feat.shape)}, got {tuple(theta.shape)}."
        )
    grid = sampling_grid(
        theta.to(frame_feat.dtype), out_hw, align_corners, translation_quirk
    )  # (B, h, w, 2)
    crop = F.grid_sample(
        frame_feat, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners
    )  # (B, C, h, w)
    return l2_normalize(crop, dim=1)
