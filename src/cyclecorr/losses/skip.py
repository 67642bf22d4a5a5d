"""Skip cycle (METHOD.md section 4): one hop ``t -> t-i``, one hop back ``t-i -> t``.

For ``i = 1..k`` the query patch ``x_p^t`` is tracked directly into frame ``t-i`` (the "direct
hop", also used by the similarity loss and drawn by the visualisation), the crop found there is
tracked back into frame ``t``, and

    L_skip^i = l_theta(theta_back^i, theta_gt).

The ``k`` direct hops are one batched tracker call, and so are the ``k`` return hops.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from cyclecorr.losses.theta import theta_loss
from cyclecorr.models.tracker import TrackStep, track_hops


class SkipCycle(NamedTuple):
    """Hops of the skip cycles, hop axis ordered ``i = 1..k`` (frame ``t-1`` first).

    Attributes:
        direct: ``TrackStep`` of the hops ``t -> t-i``: ``theta (B, k, 2, 3)``,
            ``crop (B, k, C, h, w)``, ``affinity (B, k, H*W, h*w)``.
        back_thetas: ``(B, k, 2, 3)`` placements in frame ``t`` after returning from ``t-i``.
    """

    direct: TrackStep
    back_thetas: Tensor


def skip_cycle(tracker: nn.Module, frame_feats: Tensor, query: Tensor) -> SkipCycle:
    """Track ``query`` from ``t`` into every past frame and straight back.

    Args:
        tracker: the shared ``Tracker``.
        frame_feats: ``(B, k+1, C, H, W)`` raw features, past frames oldest first, then ``t``.
        query: ``(B, C, h, w)`` L2-normalised patch features from frame ``t``.

    Returns:
        ``SkipCycle`` (hop ``i`` at index ``i-1``).
    """
    k = frame_feats.shape[1] - 1
    past = frame_feats[:, :k].flip(1)  # (B, k, C, H, W); index i-1 is frame t-i
    queries = query[:, None].expand(-1, k, -1, -1, -1)  # (B, k, C, h, w)
    direct = track_hops(tracker, past, queries)
    target = frame_feats[:, k : k + 1].expand(-1, k, -1, -1, -1)  # (B, k, C, H, W): frame t
    back = track_hops(tracker, target, direct.crop)
    return SkipCycle(direct=direct, back_thetas=back.theta)


def skip_cycle_loss(back_thetas: Tensor, theta_gt: Tensor, grid: int = 20) -> Tensor:
    """``L_skip^i`` for every ``i``, averaged over the batch.

    Args:
        back_thetas: ``(B, k, 2, 3)`` from ``skip_cycle``.
        theta_gt: ``(B, 2, 3)`` ground-truth placement of the patch in frame ``t``.
        grid: points per side of the theta-loss grid.

    Returns:
        ``(k,)`` non-negative losses, index ``i-1`` for ``L_skip^i``.
    """
    return theta_loss(back_thetas, theta_gt[:, None], grid).mean(dim=0)  # (B, k) -> (k,)
