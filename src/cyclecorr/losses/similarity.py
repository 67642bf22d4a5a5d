"""Feature-similarity loss of the direct hops ``t -> t-i`` (METHOD.md section 4), two forms.

``"dot"`` (the paper): ``L_sim^i = -mean_j <x_p^t(j), crop_{t-i}(j)>``, the cosine similarity of the
L2-normalised query and the L2-normalised crop found in frame ``t-i``, averaged over the ``h x w``
patch positions ``j`` (in ``[-1, 1]``).

``"inlier"`` (the release's default, our exact definition): the affinity mass of the direct hop
that falls inside the region predicted by that hop's ``theta``, as a fraction of all the mass,

    L_sim^i = -(1 / hw) sum_j sum_i A(i, j) m(i),
    m(i) = sigma((1 - |p_x(i)|) / s) * sigma((1 - |p_y(i)|) / s),  p(i) = theta^-1(c_i),

where ``c_i`` is the centre of frame cell ``i`` (normalised, ``align_corners=False``), ``p(i)`` its
position in the patch grid, and ``s = softness * 2 / h`` a soft edge of ``softness`` patch cells.
Since each column of ``A`` sums to 1 the fraction lies in ``[0, 1]``. ``m`` is a smooth inside
indicator of the patch square, so the loss is differentiable in both the affinity (encoder) and
``theta`` (localizer). At the default ``softness = 0.25`` the frame cells just inside/outside the
predicted square (their centres half a cell from the edge at scale 1/3) weigh 0.88 / 0.12.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cyclecorr.ops.geometry import cell_centers, invert, transform_points

SIM_FORMS = ("inlier", "dot")


def similarity_dot(query: Tensor, crops: Tensor) -> Tensor:
    """Mean cosine similarity of the query and each hop's crop.

    Args:
        query: ``(B, C, h, w)`` L2-normalised patch features of frame ``t``.
        crops: ``(B, k, C, h, w)`` L2-normalised crops of the direct hops.

    Returns:
        ``(B, k)`` similarities in ``[-1, 1]``.
    """
    return (query[:, None] * crops).sum(dim=2).mean(dim=(-2, -1))  # (B, k, h, w) -> (B, k)


def inlier_mask(
    theta: Tensor, frame_hw: tuple[int, int], patch_cells: int, softness: float = 0.25
) -> Tensor:
    """Soft indicator of the frame cells inside the patch square placed by ``theta``.

    Args:
        theta: ``(..., 2, 3)`` placements, patch grid -> frame normalised coordinates.
        frame_hw: ``(H, W)`` frame feature grid.
        patch_cells: side ``h`` of the patch grid (sets the edge width).
        softness: width of the soft edge in patch cells (> 0).

    Returns:
        ``(..., H*W)`` values in ``(0, 1)``, row-major frame cells.
    """
    if softness <= 0:
        raise ValueError(f"cyclecorr/losses/similarity.py: softness must be > 0, got {softness}.")
    centers = cell_centers(*frame_hw, device=theta.device).to(theta.dtype)  # (H*W, 2)
    in_patch = transform_points(invert(theta), centers)  # (..., H*W, 2)
    edge = softness * 2.0 / patch_cells
    inside = torch.sigmoid((1.0 - in_patch.abs()) / edge)  # (..., H*W, 2)
    return inside.prod(dim=-1)


def inlier_fraction(
    aff: Tensor, theta: Tensor, frame_hw: tuple[int, int], softness: float = 0.25
) -> Tensor:
    """Fraction of the affinity mass inside the predicted patch region.

    Args:
        aff: ``(..., H*W, h*w)`` affinities (softmax over the ``H*W`` axis).
        theta: ``(..., 2, 3)`` the same hops' placements.
        frame_hw: ``(H, W)``.
        softness: soft edge width in patch cells.

    Returns:
        ``(...)`` fractions in ``[0, 1]``.
    """
    patch_cells = math.isqrt(aff.shape[-1])
    mask = inlier_mask(theta, frame_hw, patch_cells, softness)  # (..., H*W)
    return (aff * mask[..., None]).sum(dim=-2).mean(dim=-1)  # (..., h*w) -> (...)


def similarity_loss(
    form: str,
    query: Tensor,
    crops: Tensor,
    aff: Tensor,
    thetas: Tensor,
    frame_hw: tuple[int, int],
    softness: float = 0.25,
) -> Tensor:
    """``L_sim^i`` for every direct hop, averaged over the batch.

    Args:
        form: ``"inlier"`` or ``"dot"``.
        query: ``(B, C, h, w)`` L2-normalised query.
        crops: ``(B, k, C, h, w)`` direct-hop crops.
        aff: ``(B, k, H*W, h*w)`` direct-hop affinities.
        thetas: ``(B, k, 2, 3)`` direct-hop placements.
        frame_hw: ``(H, W)``.
        softness: inlier soft edge width in patch cells.

    Returns:
        ``(k,)`` losses (minus a similarity, so lower is better), index ``i-1`` for ``L_sim^i``.
    """
    if form == "dot":
        return -similarity_dot(query, crops).mean(dim=0)
    if form == "inlier":
        return -inlier_fraction(aff, thetas, frame_hw, softness).mean(dim=0)
    raise ValueError(
        f"cyclecorr/losses/similarity.py: unknown similarity form {form!r}; expected one of "
        f"{SIM_FORMS} (set model.loss.sim_form)."
    )
