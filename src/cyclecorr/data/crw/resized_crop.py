"""Random resized crops (torchvision ``RandomResizedCrop``), with the randomness passed in.

CRW's augmentation (ajabri/videowalk ``utils/augs.py``) is two ``RandomResizedCrop``s: one per
frame (to the training image size) and one per patch (the spatial jitter). ``sample_resized_crop``
draws a box by torchvision's rule, from an ``np.random.Generator`` instead of the global RNG:

    up to 10 tries: area = H W U(scale), aspect = exp(U(log ratio)),
                    w = round(sqrt(area aspect)), h = round(sqrt(area / aspect));
                    accept when 0 < w <= W and 0 < h <= H, top ~ U{0..H-h}, left ~ U{0..W-w};
    else: the centred crop with the aspect ratio clamped to ``ratio``.

``resize_uint8`` resizes bilinearly (antialiased when shrinking, close to PIL's filter, which
CRW's PIL pipeline uses) and rounds back to uint8, as PIL images hold uint8 between the steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

_TRIES = 10  # torchvision's number of attempts before the centred fallback


class CropBox(NamedTuple):
    """A crop in pixel units of the image it is cut from.

    Attributes:
        top: first row.
        left: first column.
        height: rows.
        width: columns.
    """

    top: int
    left: int
    height: int
    width: int


def _check_range(values: Sequence[float], name: str) -> tuple[float, float]:
    low, high = (float(v) for v in values)
    if not 0 < low <= high:
        raise ValueError(
            f"{__name__}: {name} must be (low, high) with 0 < low <= high, found "
            f"{list(values)}; fix the data config."
        )
    return low, high


def centre_fallback(height: int, width: int, ratio: tuple[float, float]) -> CropBox:
    """torchvision's fallback: the whole image, cut to the nearest allowed aspect ratio."""
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        h, w = height, width
    return CropBox((height - h) // 2, (width - w) // 2, h, w)


def sample_resized_crop(
    height: int,
    width: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    rng: np.random.Generator,
) -> CropBox:
    """Draw a ``RandomResizedCrop`` box for an image of ``height x width`` pixels.

    Args:
        height: image rows.
        width: image columns.
        scale: ``(low, high)`` fraction of the image area the crop covers.
        ratio: ``(low, high)`` crop aspect ratio (width / height), drawn log-uniformly.
        rng: source of every draw.

    Returns:
        ``CropBox`` inside the image.
    """
    scale_lo, scale_hi = _check_range(scale, "scale")
    ratio_lo, ratio_hi = _check_range(ratio, "ratio")
    area = height * width
    log_lo, log_hi = math.log(ratio_lo), math.log(ratio_hi)
    for _ in range(_TRIES):
        target_area = area * rng.uniform(scale_lo, scale_hi)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return CropBox(top, left, h, w)
    return centre_fallback(height, width, (ratio_lo, ratio_hi))


def resize_uint8(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 images bilinearly (antialiased when shrinking), rounded back to uint8.

    Args:
        images: ``(..., H, W, 3)`` uint8 RGB.
        size: ``(H', W')``.

    Returns:
        ``(..., H', W', 3)`` uint8; the input itself when the size is unchanged.
    """
    if images.dtype != np.uint8 or images.ndim < 3 or images.shape[-1] != 3:
        raise ValueError(
            f"{__name__}: expected (..., H, W, 3) uint8 RGB images, found shape "
            f"{tuple(images.shape)} dtype {images.dtype}."
        )
    lead, (height, width) = images.shape[:-3], images.shape[-3:-1]
    if (height, width) == tuple(size):
        return images
    flat = torch.from_numpy(np.ascontiguousarray(images)).reshape(-1, height, width, 3)
    chw = flat.permute(0, 3, 1, 2).float()  # (M, 3, H, W)
    shrinking = size[0] < height or size[1] < width
    out = F.interpolate(chw, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
    out = out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (M, H', W', 3)
    return out.reshape(*lead, size[0], size[1], 3).numpy()


def random_resized_crop(
    image: np.ndarray,
    size: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    rng: np.random.Generator,
) -> np.ndarray:
    """``RandomResizedCrop(size, scale, ratio)`` of one image.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        size: output side (square output, as torchvision's int size).
        scale: area fraction range.
        ratio: aspect-ratio range.
        rng: source of the box.

    Returns:
        ``(size, size, 3)`` uint8.
    """
    box = sample_resized_crop(image.shape[0], image.shape[1], scale, ratio, rng)
    return crop_and_resize(image, box, size)


def crop_and_resize(image: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """Cut ``box`` out of ``(H, W, 3)`` uint8 ``image`` and resize it to ``(size, size, 3)``."""
    if box.top + box.height > image.shape[0] or box.left + box.width > image.shape[1]:
        raise ValueError(
            f"{__name__}: crop {box} does not fit an image of {image.shape[0]}x"
            f"{image.shape[1]}; draw it with sample_resized_crop for this image size."
        )
    crop = image[box.top : box.top + box.height, box.left : box.left + box.width]
    return resize_uint8(crop, (size, size))
