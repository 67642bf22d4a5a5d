"""ImageNet normalisation of RGB images in [0, 1], and its inverse (the one home of the constants).

``normalize(x) = (x - mean) / std`` per channel with the ImageNet statistics every encoder here
(and both reference implementations) uses; ``denormalize`` undoes it.
"""

from __future__ import annotations

import torch

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def _stats(x: torch.Tensor, channel_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    shape = [1] * x.ndim
    shape[channel_dim] = 3
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).reshape(shape)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).reshape(shape)
    return mean, std


def normalize(x: torch.Tensor, channel_dim: int = -3) -> torch.Tensor:
    """``(x - mean) / std`` for float RGB ``x`` in [0, 1] with channels at ``channel_dim``."""
    mean, std = _stats(x, channel_dim)
    return (x - mean) / std


def denormalize(x: torch.Tensor, channel_dim: int = -3) -> torch.Tensor:
    """Inverse of ``normalize``: ``x * std + mean``."""
    mean, std = _stats(x, channel_dim)
    return x * std + mean
