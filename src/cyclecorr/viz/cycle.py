"""The patch's cycle through time as one image: a box per tracker step, affinity heatmaps.

Layout (``k`` past frames, oldest first, then the target frame ``t``), one row per clip:

- top row: frame ``t-i`` shows the box where the direct hop ``t -> t-i`` put the patch
  (orange); frame ``t`` shows the ground-truth patch (green), the skip-cycle returns
  ``t -> t-i -> t`` (cyan) and the long-cycle returns (magenta);
- bottom row (optional): frame ``t-i`` overlaid with the affinity mass of the patch over that
  frame (``sum_j A(i, j)`` over patch positions ``j``: where the patch "looks").

Thetas follow docs/design.md (patch grid ``[-1, 1]^2`` -> frame normalised coordinates,
``align_corners=False``). Cycle index ``i = 1..k`` is stored at position ``i - 1``.
"""

from __future__ import annotations

import numpy as np
import torch

from cyclecorr.viz.boxes import draw_theta
from cyclecorr.viz.heatmap import overlay_heatmap
from cyclecorr.viz.images import hstack, vstack

GT_COLOR = (0, 200, 0)
DIRECT_COLOR = (255, 140, 0)
SKIP_COLOR = (0, 200, 255)
LONG_COLOR = (255, 0, 255)


def _check(frames: np.ndarray, name: str, thetas: torch.Tensor | np.ndarray, k: int) -> None:
    if tuple(thetas.shape) != (k, 2, 3):
        raise ValueError(
            f"{__name__}: expected {name} of shape ({k}, 2, 3) for {frames.shape[0]} "
            f"frames (k past + target), found {tuple(thetas.shape)}; pass one clip's thetas."
        )


def draw_cycle(
    frames: np.ndarray,
    theta_gt: torch.Tensor | np.ndarray,
    direct_thetas: torch.Tensor | np.ndarray,
    skip_thetas: torch.Tensor | np.ndarray | None = None,
    long_thetas: torch.Tensor | np.ndarray | None = None,
    heatmaps: torch.Tensor | np.ndarray | None = None,
) -> np.ndarray:
    """Draw one clip's cycle.

    Args:
        frames: ``(k+1, H, W, 3)`` uint8 RGB, past frames oldest first (``t-k .. t-1``), then t.
        theta_gt: ``(2, 3)`` ground-truth patch placement in frame t.
        direct_thetas: ``(k, 2, 3)``; entry ``i-1`` places the patch in frame ``t-i``.
        skip_thetas: ``(k, 2, 3)`` skip-cycle returns into frame t, or None.
        long_thetas: ``(k, 2, 3)`` long-cycle returns into frame t, or None.
        heatmaps: ``(k, h, w)`` affinity mass over frame ``t-i`` at entry ``i-1``, or None.

    Returns:
        ``(H, (k+1) W + gaps, 3)`` uint8, or twice as tall (plus a gap) with heatmaps.
    """
    k = frames.shape[0] - 1
    _check(frames, "direct_thetas", direct_thetas, k)
    for name, value in (("skip_thetas", skip_thetas), ("long_thetas", long_thetas)):
        if value is not None:
            _check(frames, name, value, k)
    top = [draw_theta(frames[k - i], direct_thetas[i - 1], DIRECT_COLOR) for i in range(k, 0, -1)]
    target = draw_theta(frames[k], theta_gt, GT_COLOR, width=3)
    for color, thetas in ((SKIP_COLOR, skip_thetas), (LONG_COLOR, long_thetas)):
        if thetas is None:
            continue
        for i in range(k):
            target = draw_theta(target, thetas[i], color, width=1)
    row = hstack([*top, target])
    if heatmaps is None:
        return row
    if heatmaps.shape[0] != k:
        raise ValueError(
            f"{__name__}: expected {k} heatmaps (one per past frame), found "
            f"{heatmaps.shape[0]}; pass (k, h, w) affinity maps."
        )
    bottom = [overlay_heatmap(frames[k - i], heatmaps[i - 1]) for i in range(k, 0, -1)]
    bottom.append(np.full_like(frames[k], 255))
    return vstack([row, hstack(bottom)])
