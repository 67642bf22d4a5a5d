"""Image conversions for visualisation: normalised tensors back to uint8 RGB, grids of images.

``to_uint8`` inverts the ImageNet mean/std normalisation of the training pipeline
(``x = (rgb / 255 - mean) / std``), so ``rgb = clip((x * std + mean) * 255)``.
"""

from __future__ import annotations

import numpy as np
import torch

from cyclecorr.ops.normalize import denormalize


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """Undo ImageNet normalisation.

    Args:
        image: ``(3, H, W)`` float, ImageNet mean/std normalised.

    Returns:
        ``(H, W, 3)`` uint8 RGB.

    Raises:
        ValueError: the input is not ``(3, H, W)``.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(
            f"{__name__}: to_uint8 expected a (3, H, W) normalised image, found "
            f"shape {tuple(image.shape)}; pass one frame, e.g. batch['frames'][b, t]."
        )
    rgb = denormalize(image.detach().float().cpu()) * 255.0  # (3, H, W)
    return rgb.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, 3)


def hstack(images: list[np.ndarray], gap: int = 2, fill: int = 255) -> np.ndarray:
    """Place equally tall ``(H, W_i, 3)`` uint8 images side by side with ``gap`` columns between.

    Raises:
        ValueError: no images, or heights differ.
    """
    if not images or len({im.shape[0] for im in images}) != 1:
        raise ValueError(
            f"{__name__}: hstack expected one or more images of equal height, found "
            f"heights {[im.shape[0] for im in images]}; resize them first."
        )
    height = images[0].shape[0]
    spacer = np.full((height, gap, 3), fill, np.uint8)
    parts: list[np.ndarray] = []
    for index, image in enumerate(images):
        if index and gap:
            parts.append(spacer)
        parts.append(image)
    return np.concatenate(parts, axis=1)


def vstack(images: list[np.ndarray], gap: int = 2, fill: int = 255) -> np.ndarray:
    """Stack ``(H_i, W, 3)`` uint8 images vertically (widths padded on the right with ``fill``)."""
    width = max(im.shape[1] for im in images)
    padded = [
        np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=fill)
        for im in images
    ]
    rotated = [np.ascontiguousarray(im.transpose(1, 0, 2)) for im in padded]  # (W, H, 3)
    return np.ascontiguousarray(hstack(rotated, gap, fill).transpose(1, 0, 2))  # (sum H, W, 3)
