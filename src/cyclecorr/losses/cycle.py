"""Long cycle (METHOD.md section 4): back ``t -> t-1 -> ... -> t-i``, forward again to ``t``.

For ``i = 1..k`` the query patch is tracked backward through every past frame down to ``t-i``
(``i`` hops), then forward through ``t-i+1, ..., t-1`` and back into ``t`` (``i`` hops), and

    L_long^i = l_theta(theta_end^i, theta_gt).

Shared computation: the backward chain of cycle ``i`` is the prefix of cycle ``i+1``'s, so the
backward pass is one chain of ``k`` hops (its first hop ``t -> t-1`` is the skip cycle's direct hop
and can be passed in). The forward chains all differ (they start in different frames), but they
are independent, so hop ``m`` of every cycle still running (``i >= m``; cycle ``i`` goes into frame
``t-i+m``) is one batched tracker call: ``k`` forward calls instead of ``k (k+1) / 2``. For
``i = 1`` the long cycle is the same path as the skip cycle ``t -> t-1 -> t``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cyclecorr.losses.theta import theta_loss
from cyclecorr.models.tracker import track_hops


def backward_chain(
    tracker: nn.Module, frame_feats: Tensor, query: Tensor, first_crop: Tensor | None = None
) -> list[Tensor]:
    """Crops of the backward chain ``t -> t-1 -> ... -> t-k``.

    Args:
        tracker: the shared ``Tracker``.
        frame_feats: ``(B, k+1, C, H, W)`` raw features, past frames oldest first, then ``t``.
        query: ``(B, C, h, w)`` L2-normalised patch features from frame ``t``.
        first_crop: ``(B, C, h, w)`` crop of the hop ``t -> t-1`` if already computed.

    Returns:
        ``k`` crops ``(B, C, h, w)``; entry ``i-1`` lies in frame ``t-i`` (index ``k-i``).
    """
    k = frame_feats.shape[1] - 1
    if first_crop is None:
        first_crop = tracker(frame_feats[:, k - 1], query).crop
    crops = [first_crop]
    for i in range(2, k + 1):
        crops.append(tracker(frame_feats[:, k - i], crops[-1]).crop)
    return crops


def forward_chains(tracker: nn.Module, frame_feats: Tensor, starts: list[Tensor]) -> Tensor:
    """Track every cycle's start crop forward to frame ``t``, batching hop ``m`` of all cycles.

    Args:
        tracker: the shared ``Tracker``.
        frame_feats: ``(B, k+1, C, H, W)`` raw features, past frames oldest first, then ``t``.
        starts: ``k`` crops from ``backward_chain``; entry ``i-1`` lies in frame ``t-i``.

    Returns:
        ``(B, k, 2, 3)`` final placements in frame ``t``; index ``i-1`` for cycle ``i``.
    """
    k = len(starts)
    current = list(starts)
    ends: list[Tensor] = []
    for m in range(1, k + 1):
        cycles = range(m, k + 1)  # cycles with at least m forward hops
        # cycle i's m-th forward hop enters frame t-i+m, stored at index k-i+m
        frames = torch.stack([frame_feats[:, k - i + m] for i in cycles], dim=1)  # (B, n, C,H,W)
        queries = torch.stack([current[i - 1] for i in cycles], dim=1)  # (B, n, C, h, w)
        step = track_hops(tracker, frames, queries)
        for slot, i in enumerate(cycles):
            current[i - 1] = step.crop[:, slot]
        ends.append(step.theta[:, 0])  # cycle i = m is first and has just entered frame t
    return torch.stack(ends, dim=1)  # (B, k, 2, 3)


def long_cycle_thetas(
    tracker: nn.Module, frame_feats: Tensor, query: Tensor, first_crop: Tensor | None = None
) -> Tensor:
    """Final placements in frame ``t`` of the ``k`` long cycles.

    Args:
        tracker: the shared ``Tracker``.
        frame_feats: ``(B, k+1, C, H, W)`` raw features, past frames oldest first, then ``t``.
        query: ``(B, C, h, w)`` L2-normalised patch features from frame ``t``.
        first_crop: optional ``(B, C, h, w)`` crop of the hop ``t -> t-1`` (shared with the skip
            cycle's direct hop).

    Returns:
        ``(B, k, 2, 3)``; index ``i-1`` is ``theta_end^i``.
    """
    starts = backward_chain(tracker, frame_feats, query, first_crop)
    return forward_chains(tracker, frame_feats, starts)


def long_cycle_loss(long_thetas: Tensor, theta_gt: Tensor, grid: int = 20) -> Tensor:
    """``L_long^i`` for every ``i``, averaged over the batch.

    Args:
        long_thetas: ``(B, k, 2, 3)`` from ``long_cycle_thetas``.
        theta_gt: ``(B, 2, 3)`` ground-truth placement in frame ``t``.
        grid: points per side of the theta-loss grid.

    Returns:
        ``(k,)`` non-negative losses, index ``i-1`` for ``L_long^i``.
    """
    return theta_loss(long_thetas, theta_gt[:, None], grid).mean(dim=0)  # (B, k) -> (k,)
