"""Differentiable bilinear crop of frame features at ``theta`` (METHOD.md section 3, "Sampler").

``crop = normalize_C( grid_sample(x_I, affine_grid(theta, (h, w))) )``: the raw frame features are
sampled on the patch grid mapped by ``theta`` (``cyclecorr.ops.crop``, where ``align_corners`` and
the release's 227/210 translation quirk are explained) and the crop is L2-normalised over
channels. The quirk only changes where the crop is taken, not the ``theta`` the tracker reports.
"""

from __future__ import annotations

from torch import Tensor

from cyclecorr.ops.affinity import l2_normalize
from cyclecorr.ops.crop import affine_crop


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
            f"{__name__}: crop_features expects theta (B, 2, 3) matching "
            f"frame_feat (B, C, H, W)={tuple(frame_feat.shape)}, got {tuple(theta.shape)}."
        )
    crop = affine_crop(frame_feat, theta, out_hw, align_corners, translation_quirk)
    return l2_normalize(crop, dim=1)  # (B, C, h, w)
