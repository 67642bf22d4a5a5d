"""Feature-similarity loss of the direct hops ``t -> t-i`` (METHOD.md section 4), two forms.

``"dot"`` (the paper): ``L_sim^i = -mean_j <x_p^t(j), crop_{t-i}(j)>``, the cosine similarity of the
L2-normalised query and the L2-normalised crop found in frame ``t-i``, averaged over the ``h x w``
patch positions ``j`` (in ``[-1, 1]``).

``"inlier"`` (the release's default: weakalign's ``WeakInlierCountPool`` with
``normalize_inlier_count=True`` and no dilation, on the direct hops' affinities and thetas). For one
hop with affinity ``A`` (``H*W`` frame cells ``i`` x ``h*w`` patch cells ``j``, each column a
softmax over the frame) and placement ``theta``:

- *what is warped*: the identity one-hot map of the ``H x W`` frame cells (``H*W`` channels,
  channel ``i`` is an ``H x W`` image that is 1 at cell ``i`` and 0 elsewhere);
- *by which theta*: the hop's own ``theta``, sampled bilinearly (zeros padding) on the ``h x w``
  patch grid: ``M[i, j] = bilerp(onehot_i, p_j)``, ``p_j = theta(g_j)`` with ``g_j`` the patch
  grid point of ``affine_grid`` (``align_corners``; with ``translation_quirk`` the translation is
  scaled by 227/210, exactly as the sampler crops, ``cyclecorr.ops.crop.sampling_grid``);
- *normalised*: ``M / sum_{i,j} (M[i, j] + eps)``, ``eps = 1e-5`` added to every one of the
  ``H*W*h*w`` entries, so a patch fully inside the frame divides by ``h*w + eps H W h w`` (100.9 at
  30x30 / 10x10);
- *what is summed*: ``score = sum_{i,j} M_norm[i, j] A(i, j)``, i.e. for each patch cell ``j`` the
  bilinear interpolation of its own affinity column ``A(:, j)`` (viewed as an ``H x W`` image) at
  the frame position ``p_j`` that ``theta`` maps ``j`` to:

      score = sum_j bilerp(A(:, j), p_j) / (sum_j in(p_j) + eps H W h w),

  with ``in(p)`` the in-bounds bilinear weight at ``p`` (1 inside the frame, less near its edges).

``L_sim^i = -score``. Per-cell correspondence scores ``hw / (hw + eps HWhw)`` (0.991); collapsing
every cell's mass onto one frame cell scores about ``1 / (hw + eps HWhw)`` (0.010), so the
collapse that a mass-inside-the-box score admits is not rewarded. Differentiable in ``A``
(encoder) and ``theta`` (localizer, through the bilinear weights). Computed without the ``H*W``
channel one-hot: column ``j`` of ``A`` is sampled as an image at ``p_j`` and the normaliser is the
sampled all-ones image (``sum_i onehot_i = 1``), exact up to float rounding. The release lays frame
cells out column-major (``x H + y``) in both the affinity and the one-hot map; ours are row-major in
both, which gives the same score. The release's convention is ``align_corners=True`` (it predates
the flag) with the quirk on.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from cyclecorr.ops.crop import sampling_grid

SIM_FORMS = ("inlier", "dot")
INLIER_EPS = 1e-5  # the release's epsilon, added to every entry of the warped one-hot map


def similarity_dot(query: Tensor, crops: Tensor) -> Tensor:
    """Mean cosine similarity of the query and each hop's crop.

    Args:
        query: ``(B, C, h, w)`` L2-normalised patch features of frame ``t``.
        crops: ``(B, k, C, h, w)`` L2-normalised crops of the direct hops.

    Returns:
        ``(B, k)`` similarities in ``[-1, 1]``.
    """
    return (query[:, None] * crops).sum(dim=2).mean(dim=(-2, -1))  # (B, k, h, w) -> (B, k)


def inlier_score(
    aff: Tensor,
    theta: Tensor,
    frame_hw: tuple[int, int],
    align_corners: bool = False,
    translation_quirk: bool = False,
    eps: float = INLIER_EPS,
) -> Tensor:
    """The release's normalised soft inlier count of each hop (see the module docstring).

    Args:
        aff: ``(..., H*W, h*w)`` affinities (softmax over the ``H*W`` axis), row-major cells.
        theta: ``(..., 2, 3)`` the same hops' placements, patch grid -> frame normalised coords.
        frame_hw: ``(H, W)`` frame grid.
        align_corners: sampling convention (the tracker's).
        translation_quirk: the release's 227/210 translation scaling (the tracker's).
        eps: added to every entry of the warped ``(H*W, h, w)`` one-hot map before normalising.

    Returns:
        ``(...)`` float32 scores in ``[0, hw / (hw + eps H W h w)]``.
    """
    height, width = frame_hw
    frame_cells, patch_cells = aff.shape[-2], aff.shape[-1]
    side = math.isqrt(patch_cells)
    if frame_cells != height * width or side * side != patch_cells:
        raise ValueError(
            f"{__name__}: expected an affinity (..., {height * width}, h*w) "
            f"for frame_hw={frame_hw} and a square patch grid, got {tuple(aff.shape)}."
        )
    if theta.shape[-2:] != (2, 3) or theta.shape[:-2] != aff.shape[:-2]:
        raise ValueError(
            f"{__name__}: expected theta (..., 2, 3) with the affinity's "
            f"leading dims {tuple(aff.shape[:-2])}, got {tuple(theta.shape)}."
        )
    lead = aff.shape[:-2]
    flat_aff = aff.reshape(-1, frame_cells, patch_cells).float()  # (N, HW, hw)
    n = flat_aff.shape[0]
    grid = sampling_grid(
        theta.reshape(n, 2, 3).float(), (side, side), align_corners, translation_quirk
    )  # (N, h, w, 2): p_j, row-major j like the affinity's columns
    # column j of A as an (H, W) image, sampled at its own p_j
    images = flat_aff.transpose(1, 2).reshape(n * patch_cells, 1, height, width)  # (N*hw,1,H,W)
    points = grid.reshape(n * patch_cells, 1, 1, 2)  # (N*hw, 1, 1, 2)
    hits = F.grid_sample(
        images, points, mode="bilinear", padding_mode="zeros", align_corners=align_corners
    )  # (N*hw, 1, 1, 1)
    ones = flat_aff.new_ones(n, 1, height, width)  # sum over i of the one-hot images
    inside = F.grid_sample(
        ones, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners
    )  # (N, 1, h, w): in-bounds weight in(p_j)
    total = inside.sum(dim=(1, 2, 3)) + eps * frame_cells * patch_cells  # (N,)
    score = hits.reshape(n, patch_cells).sum(dim=1) / total  # (N,)
    return score.reshape(lead)


def similarity_loss(
    form: str,
    query: Tensor,
    crops: Tensor,
    aff: Tensor,
    thetas: Tensor,
    frame_hw: tuple[int, int],
    align_corners: bool = False,
    translation_quirk: bool = False,
) -> Tensor:
    """``L_sim^i`` for every direct hop, averaged over the batch.

    Args:
        form: ``"inlier"`` or ``"dot"``.
        query: ``(B, C, h, w)`` L2-normalised query.
        crops: ``(B, k, C, h, w)`` direct-hop crops.
        aff: ``(B, k, H*W, h*w)`` direct-hop affinities.
        thetas: ``(B, k, 2, 3)`` direct-hop placements.
        frame_hw: ``(H, W)``.
        align_corners: the inlier mask's sampling convention (the tracker's).
        translation_quirk: the inlier mask's 227/210 translation scaling (the tracker's).

    Returns:
        ``(k,)`` losses (minus a similarity, so lower is better), index ``i-1`` for ``L_sim^i``.
    """
    if form == "dot":
        return -similarity_dot(query, crops).mean(dim=0)
    if form == "inlier":
        score = inlier_score(aff, thetas, frame_hw, align_corners, translation_quirk)  # (B, k)
        return -score.mean(dim=0)
    raise ValueError(
        f"{__name__}: unknown similarity form {form!r}; expected one of "
        f"{SIM_FORMS} (set model.loss.sim_form)."
    )
