"""The no-learning baseline encoder: raw colour averaged over the encoder's 8x8 cells.

CIE Lab (kornia: L in [0, 100], a/b in about [-128, 127]) or RGB in [0, 1], average-pooled with
stride 8 (ceil mode, like a padded ResNet's output grid).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from cyclecorr.eval.encoders.frozen import frozen
from cyclecorr.ops.geometry import FEATURE_STRIDE
from cyclecorr.ops.normalize import denormalize


class PixelFeatures(nn.Module):
    """Colour averaged over ``stride`` x ``stride`` cells: (N, 3, H, W) -> (N, 3, H/8, W/8)."""

    stride = FEATURE_STRIDE

    def __init__(self, color: Literal["lab", "rgb"] = "lab") -> None:
        super().__init__()
        if color not in ("lab", "rgb"):
            raise ValueError(f"{__name__}: color must be 'lab' or 'rgb', got {color!r}")
        self.color = color
        self.out_channels = 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the ImageNet normalisation, convert colour, average-pool by 8 (ceil mode)."""
        rgb = denormalize(x).clamp(0.0, 1.0)  # (N, 3, H, W) in [0, 1]
        if self.color == "lab":
            import kornia.color

            rgb = kornia.color.rgb_to_lab(rgb)  # (N, 3, H, W): L, a, b
        return F.avg_pool2d(rgb, self.stride, self.stride, ceil_mode=True)


def pixel_encoder(color: Literal["lab", "rgb"] = "lab") -> nn.Module:
    """A frozen ``PixelFeatures``."""
    return frozen(PixelFeatures(color))
