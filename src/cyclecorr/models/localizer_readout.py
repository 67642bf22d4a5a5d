"""The readout init of the learned localizer: start as a closed-form soft-argmax fit.

An optional init (``model.tracker.localizer_readout_init``; off by default and in
``experiment=paper``: the release initialises the localizer at random). It sets four of the
first convolution's channels, four of the second's and the linear head so that, at step 0, the
``Localizer`` computes (up to the N(0, 0.01) head weights of its other channels) a linearised
version of ``ProcrustesLocalizer``:

1. ``conv1`` channels 0-3 give ``+x, -x, +y, -y`` of the window mean of the soft-argmax
   locations ``y_j = sum_i A(i, j) c_i`` over each ``k x k`` window of patch cells (``c_i``: frame
   cell centres), so ``(B, 4, h-k+1, w-k+1)``.
2. ``LeakyReLU(0.1)`` keeps a signed value ``z`` exactly as ``f(z) - f(-z) = 1.1 z``; ``conv2``
   channels 0-3 take the ``k x k`` window mean of those values (weights ``+-1 / (1.1 k^2)``), again
   as ``+x, -x, +y, -y``, on the final ``s x s`` grid: ``Y(u, v)``, the mean soft-argmax location
   of the patch cells around the window centre ``G(u, v)`` (patch coordinates).
3. The head reads ``tx, ty = mean_uv Y(u, v)`` and the small-angle rotation
   ``angle = sum_uv G'(u, v) x Y(u, v) / (s_p sum_uv |G'(u, v)|^2)`` (``G'``: centred window
   centres, ``s_p``: the patch scale 1/3; for ``y = t + s_p R(a) g`` the cross sum is
   ``s_p sin(a) sum |G'|^2``). The other channels keep their rule (``init``), and their head
   weights stay N(0, 0.01), so all of the localizer still learns.

Why: from scratch the localizer is the slow part of TimeCycle's start (METHOD.md section 4's
stall); with this init the theta that the cycles back-propagate through follows the affinity from
the first step. Everything it sets is an ordinary weight that training changes freely.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cyclecorr.ops.geometry import PATCH_SCALE, cell_centers

READOUT_CHANNELS = 4  # +x, -x, +y, -y
LEAK_GAIN = 1.1  # LeakyReLU(0.1): f(z) - f(-z) = 1.1 z


def window_centres(patch_cells: int, kernel_size: int) -> Tensor:
    """``(s * s, 2)`` patch-normalised centres of the final grid's receptive windows.

    Final cell ``(u, v)`` of two unpadded ``k x k`` convolutions on an ``h x h`` grid covers patch
    cells ``u .. u + 2k - 2`` (and likewise ``v``), centred on cell ``u + k - 1``; row-major like
    ``cell_centers``.
    """
    side = patch_cells - 2 * (kernel_size - 1)
    index = torch.arange(side, dtype=torch.float32) + (kernel_size - 1)
    coords = (2 * index + 1) / patch_cells - 1  # (s,)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([xx, yy], dim=-1).reshape(side * side, 2)


def signed_pairs(values: Tensor) -> Tensor:
    """``(n, 2)`` per-cell ``(x, y)`` -> ``(n, 4)`` ``(+x, -x, +y, -y)``."""
    return torch.stack([values[:, 0], -values[:, 0], values[:, 1], -values[:, 1]], dim=1)


@torch.no_grad()
def init_readout(
    first: nn.Conv2d,
    second: nn.Conv2d,
    head: nn.Linear,
    frame_hw: tuple[int, int],
    patch_cells: int,
    scale: float = PATCH_SCALE,
) -> None:
    """Overwrite the readout channels of a ``Localizer``'s layers in place (see module doc).

    Args:
        first: ``conv(H*W -> C1, k)``, ``C1 >= 4``.
        second: ``conv(C1 -> C2, k)``, ``C2 >= 4``.
        head: ``linear(C2 * s * s -> 3)``, inputs ordered ``(channel, v, u)`` like ``flatten``.
        frame_hw: ``(H, W)`` frame feature grid.
        patch_cells: side ``h`` of the patch grid.
        scale: the patch scale ``s_p``.
    """
    k = first.kernel_size[0]
    if min(first.out_channels, second.out_channels) < READOUT_CHANNELS:
        raise ValueError(
            f"{__name__}: the readout init needs at least 4 channels "
            f"in both convolutions, got {first.out_channels} and {second.out_channels}."
        )
    frame_xy = signed_pairs(cell_centers(*frame_hw))  # (H*W, 4)
    first.weight[:READOUT_CHANNELS] = frame_xy.t()[:, :, None, None] / (k * k)
    second.weight[:READOUT_CHANNELS] = 0.0
    mean = 1.0 / (LEAK_GAIN * k * k)
    for channel in range(READOUT_CHANNELS):
        sign = 1.0 if channel % 2 == 0 else -1.0
        pair = channel - channel % 2
        second.weight[channel, pair] = sign * mean
        second.weight[channel, pair + 1] = -sign * mean
    for conv in (first, second):
        if conv.bias is not None:
            conv.bias[:READOUT_CHANNELS] = 0.0
    head.weight[:, : READOUT_CHANNELS * head_cells(head, second)] = readout_head(
        window_centres(patch_cells, k), scale
    )
    head.bias.zero_()


def head_cells(head: nn.Linear, second: nn.Conv2d) -> int:
    """``s * s``: the head's inputs per channel of ``second``."""
    return head.in_features // second.out_channels


def readout_head(centres: Tensor, scale: float) -> Tensor:
    """``(3, 4 * n)`` head weights on the readout channels for ``centres (n, 2)`` windows.

    Columns follow ``flatten`` of ``(channel, cell)``: channel ``+x, -x, +y, -y`` outer.
    """
    n = centres.shape[0]
    offsets = centres - centres.mean(dim=0)  # (n, 2) G'
    spread = float((offsets**2).sum())
    weights = torch.zeros(3, READOUT_CHANNELS, n)
    signs = torch.tensor([1.0, -1.0])
    for half, sign in enumerate(signs):  # the +/- copies of each coordinate
        weights[0, 0 + half] = sign / (LEAK_GAIN * n)  # tx from x
        weights[1, 2 + half] = sign / (LEAK_GAIN * n)  # ty from y
        if spread > 0:  # angle: (G'_x Y - G'_y X) / (s_p sum |G'|^2)
            weights[2, 2 + half] = sign * offsets[:, 0] / (LEAK_GAIN * scale * spread)
            weights[2, 0 + half] = -sign * offsets[:, 1] / (LEAK_GAIN * scale * spread)
    return weights.reshape(3, READOUT_CHANNELS * n)
