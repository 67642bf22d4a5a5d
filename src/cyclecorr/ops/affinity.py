"""Patch-to-frame affinity (METHOD.md section 3).

For L2-normalised features of a patch ``x_p`` (``h x w`` positions ``j``) and of a frame ``x_I``
(``H x W`` positions ``i``):

    A(i, j) = softmax_i( <x_I(i), x_p(j)> / tau ),

a softmax over the frame positions for every patch position, so each column of ``A`` is a
distribution over where patch cell ``j`` lies in the frame. ``tau`` is a temperature and the code
computes exactly ``logits / tau``: with the release's ``tau = 512 ** -0.5`` the cosine similarities
are multiplied by ``sqrt(512) ~ 22.6``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

DEFAULT_TAU = 512**-0.5


def l2_normalize(x: Tensor, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """Scale ``x`` to unit L2 norm along ``dim`` (channels for ``(B, C, H, W)`` features).

    Args:
        x: any float tensor.
        dim: the feature dimension.
        eps: floor on the norm, so an all-zero vector stays zero instead of becoming NaN.

    Returns:
        Tensor of the same shape whose slices along ``dim`` have norm 1 (or are zero).
    """
    return F.normalize(x, p=2.0, dim=dim, eps=eps)


def affinity(patch: Tensor, frame: Tensor, tau: float = DEFAULT_TAU) -> Tensor:
    """Softmax affinity of every frame position to every patch position.

    Args:
        patch: ``(B, C, h, w)`` L2-normalised (over C) patch features.
        frame: ``(B, C, H, W)`` L2-normalised (over C) frame features.
        tau: temperature; logits are ``<x_I(i), x_p(j)> / tau``.

    Returns:
        ``(B, H*W, h*w)`` float, non-negative, each column ``[:, :, j]`` sums to 1. Frame position
        ``i = y * W + x`` and patch position ``j = v * w + u`` are row-major.
    """
    if patch.ndim != 4 or frame.ndim != 4 or patch.shape[:2] != frame.shape[:2]:
        raise ValueError(
            f"{__name__}: affinity expects patch (B, C, h, w) and frame "
            f"(B, C, H, W) with the same B and C, got {tuple(patch.shape)} and "
            f"{tuple(frame.shape)}; encode both with the same encoder."
        )
    if tau <= 0:
        raise ValueError(f"{__name__}: tau must be > 0, got {tau}.")
    frame_flat = frame.flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, H*W, C)
    patch_flat = patch.flatten(2)  # (B, C, h, w) -> (B, C, h*w)
    logits = frame_flat @ patch_flat  # (B, H*W, h*w)
    return F.softmax(logits / tau, dim=1)
