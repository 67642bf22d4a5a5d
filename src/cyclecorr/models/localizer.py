"""Localizers: from a patch-to-frame affinity to the patch placement ``(tx, ty, angle)``.

``Localizer`` is the learned head of METHOD.md section 3: the affinity ``A (B, H*W, h*w)`` is laid
out as ``H*W`` channels on the ``h x w`` patch grid and goes through
``conv(HW -> 128, k) -> LeakyReLU(0.1) -> conv(128 -> 64, k) -> LeakyReLU(0.1) -> linear -> 3``
(unpadded convolutions; ``k = 4`` on a 10x10 grid gives 64 x 4 x 4 = 1024 linear inputs). The
linear layer starts at N(0, 0.01) with zero bias, so the first guess is a centred, unrotated patch.
The release's convolutions have no bias and Kaiming-normal init (``fan_out``, ReLU gain):
``bias=False, init="kaiming_fan_out"``; the defaults keep PyTorch's (bias, Kaiming-uniform).

``ProcrustesLocalizer`` is a parameter-free, closed-form readout with the same interface: each
patch cell's soft-argmax location in the frame, then the least-squares rotation + translation
(scale fixed) from the patch cell centres to those locations (2-D Procrustes). It is exact when
the affinity peaks on the true cells; the tests use it to check the tracker's geometry without
training, and it is a baseline tracker for feature-quality probes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cyclecorr.models.init import init_conv
from cyclecorr.models.localizer_readout import init_readout
from cyclecorr.ops.geometry import PATCH_SCALE, cell_centers


def default_kernel_size(patch_cells: int) -> int:
    """The localizer kernel for a ``patch_cells`` grid: ``ceil(0.4 * patch_cells)``.

    4 for the release's 10x10 grid (10 -> 7 -> 4 cells, 64 x 4 x 4 = 1024 linear inputs), 3 for
    6x6, 2 for 3x3 or 4x4: the two unpadded convolutions always leave a grid of at least 2x2
    (1x1 for a one-cell patch).
    """
    return max(1, math.ceil(0.4 * patch_cells))


class Localizer(nn.Module):
    """Learned affinity -> ``(tx, ty, angle)`` regressor.

    Args:
        frame_cells: ``H*W`` frame positions, the input channels (900 for 30x30).
        patch_cells: side ``h`` of the square patch grid (10 for 10x10).
        hidden: channels of the two convolutions.
        kernel_size: kernel of both (unpadded) convolutions; the grid shrinks by
            ``2 * (kernel_size - 1)``. ``None`` derives it from the grid
            (``default_kernel_size``).
        bias: give both convolutions a bias (the release: ``False``).
        init: both convolutions' init, ``"default"`` (PyTorch's) or ``"kaiming_fan_out"`` (the
            release's); the linear head is N(0, 0.01) with zero bias either way.
        readout_init: start four channels of each layer as a soft-argmax fit
            (``cyclecorr.models.localizer_readout``; not the release's: it starts at random).
        frame_hw: ``(H, W)`` with ``H * W == frame_cells``, needed by ``readout_init``
            (``None``: a square grid).
    """

    def __init__(
        self,
        frame_cells: int = 900,
        patch_cells: int = 10,
        hidden: tuple[int, int] = (128, 64),
        kernel_size: int | None = None,
        bias: bool = True,
        init: str = "default",
        readout_init: bool = False,
        frame_hw: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        kernel_size = default_kernel_size(patch_cells) if kernel_size is None else kernel_size
        out_side = patch_cells - 2 * (kernel_size - 1)
        if out_side < 1:
            raise ValueError(
                f"{__name__}: a {patch_cells}x{patch_cells} patch grid is too "
                f"small for two unpadded convolutions of kernel_size={kernel_size} (it would "
                f"shrink to {out_side}x{out_side}); use kernel_size <= {(patch_cells + 1) // 2} "
                "(e.g. 3 for a 6x6 grid) or a larger patch."
            )
        self.frame_cells = frame_cells
        self.patch_cells = patch_cells
        first = nn.Conv2d(frame_cells, hidden[0], kernel_size, bias=bias)
        second = nn.Conv2d(hidden[0], hidden[1], kernel_size, bias=bias)
        for conv in (first, second):
            init_conv(conv, init)
        self.convs = nn.Sequential(first, nn.LeakyReLU(0.1), second, nn.LeakyReLU(0.1))
        self.head = nn.Linear(hidden[1] * out_side * out_side, 3)
        nn.init.normal_(self.head.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.head.bias)
        if readout_init:
            side = math.isqrt(frame_cells)
            init_readout(first, second, self.head, frame_hw or (side, side), patch_cells)

    def forward(self, aff: Tensor) -> Tensor:
        """Regress the patch placement.

        Args:
            aff: ``(B, H*W, h*w)`` affinity (softmax over the ``H*W`` axis).

        Returns:
            ``(B, 3)`` ``(tx, ty, angle)``: translation in frame normalised units, angle in radians.
        """
        b, hw_frame, hw_patch = aff.shape
        if hw_frame != self.frame_cells or hw_patch != self.patch_cells**2:
            raise ValueError(
                f"{__name__}: expected an affinity (B, {self.frame_cells}, "
                f"{self.patch_cells**2}), got {tuple(aff.shape)}; the tracker's frame_hw and "
                "patch_cells must match the encoder's feature sizes."
            )
        grid = aff.reshape(b, hw_frame, self.patch_cells, self.patch_cells)  # (B, HW, h, w)
        return self.head(self.convs(grid).flatten(1))  # (B, 64*s*s) -> (B, 3)


class ProcrustesLocalizer(nn.Module):
    """Closed-form readout: soft-argmax correspondences + fixed-scale 2-D Procrustes.

    For patch cell ``j`` with centre ``g_j`` (patch normalised coords) the expected frame location
    is ``y_j = sum_i A(i, j) c_i`` over frame cell centres ``c_i``. With centred points
    ``g'_j, y'_j`` the least-squares rotation is ``a = atan2(sum g' x y', sum g' . y')`` and the
    translation ``t = mean(y) - s R(a) mean(g)``.

    Args:
        frame_hw: ``(H, W)`` frame feature grid.
        patch_cells: side ``h`` of the square patch grid.
        scale: fixed patch scale ``s`` (1/3).
    """

    frame_xy: Tensor  # (H*W, 2) frame cell centres, a buffer
    patch_xy: Tensor  # (h*w, 2) patch cell centres, a buffer

    def __init__(
        self, frame_hw: tuple[int, int], patch_cells: int, scale: float = PATCH_SCALE
    ) -> None:
        super().__init__()
        self.scale = scale
        self.register_buffer("frame_xy", cell_centers(*frame_hw), persistent=False)
        self.register_buffer("patch_xy", cell_centers(patch_cells, patch_cells), persistent=False)

    def forward(self, aff: Tensor) -> Tensor:
        """``aff (B, H*W, h*w)`` -> ``(B, 3)`` ``(tx, ty, angle)``."""
        frame_xy, patch_xy = self.frame_xy, self.patch_xy  # (HW, 2), (hw, 2)
        target = torch.einsum("bij,ic->bjc", aff, frame_xy.to(aff.dtype))  # (B, hw, 2)
        src_mean = patch_xy.mean(dim=0)  # (2,)
        dst_mean = target.mean(dim=1)  # (B, 2)
        src = patch_xy - src_mean  # (hw, 2)
        dst = target - dst_mean[:, None]  # (B, hw, 2)
        dot = (src[None] * dst).sum(dim=(1, 2))  # (B,)
        cross = (src[None, :, 0] * dst[..., 1] - src[None, :, 1] * dst[..., 0]).sum(dim=1)  # (B,)
        angle = torch.atan2(cross, dot)
        cos, sin = torch.cos(angle), torch.sin(angle)
        rotated_x = self.scale * (cos * src_mean[0] - sin * src_mean[1])  # (B,)
        rotated_y = self.scale * (sin * src_mean[0] + cos * src_mean[1])  # (B,)
        shift = dst_mean - torch.stack([rotated_x, rotated_y], dim=1)  # (B, 2)
        return torch.cat([shift, angle[:, None]], dim=1)  # (B, 3)
