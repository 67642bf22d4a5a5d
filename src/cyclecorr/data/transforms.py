"""Frame transforms of a training clip (METHOD.md section 2, "Frames").

Resize the short side (256 in the release), take one random square crop (240) and one random
horizontal flip per clip, shared by every frame so that motion between frames is untouched, then
ImageNet mean/std normalisation. Raw frames are ``(T, H, W, 3)`` uint8 RGB numpy arrays; model
inputs are ``(T, 3, H, W)`` float32 tensors.

Deliberate detail: a frame whose short side is smaller than the crop is first resized up (short
side = crop, aspect kept) rather than padded, so every crop holds real pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cyclecorr.ops.normalize import IMAGENET_MEAN, IMAGENET_STD


class CropFlip(NamedTuple):
    """One square crop and flip for a whole clip (pixel units of the frame being cropped).

    Attributes:
        top: first row of the crop.
        left: first column of the crop.
        size: crop side.
        flip: mirror left-right after cropping.
    """

    top: int
    left: int
    size: int
    flip: bool


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """``(H', W')`` with ``min(H', W') == size`` and the aspect ratio kept (long side rounded)."""
    if height <= width:
        return size, max(size, int(round(width * size / height)))
    return max(size, int(round(height * size / width))), size


def _check_frames(frames: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"{__name__}: expected frames (T, H, W, 3) uint8, found "
            f"shape {tuple(frames.shape)} dtype {frames.dtype}; pass RGB frames from a reader."
        )


def resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize so the short side is ``size`` (bilinear, antialiased when shrinking).

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        size: target short side in pixels.

    Returns:
        ``(T, H', W', 3)`` uint8 with ``min(H', W') == size``; the input itself when unchanged.
    """
    _check_frames(frames)
    height, width = frames.shape[1:3]
    new_h, new_w = short_side_size(height, width, size)
    if (new_h, new_w) == (height, width):
        return frames
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    shrinking = new_h < height
    resized = F.interpolate(
        images, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=shrinking
    )
    resized = resized.round().clamp(0, 255).to(torch.uint8)
    return resized.permute(0, 2, 3, 1).contiguous().numpy()  # (T, H', W', 3)


def sample_crop_flip(
    height: int, width: int, crop: int, rng: np.random.Generator, flip_prob: float = 0.5
) -> CropFlip:
    """Draw one crop position (uniform) and one flip for a clip of ``height x width`` frames.

    A frame smaller than ``crop`` is resized up by ``apply_crop_flip`` first; the returned
    position then refers to the resized frame (``short_side_size(height, width, crop)``).
    """
    if min(height, width) < crop:
        height, width = short_side_size(height, width, crop)
    top = int(rng.integers(0, height - crop + 1))
    left = int(rng.integers(0, width - crop + 1))
    flip = bool(rng.random() < flip_prob)
    return CropFlip(top=top, left=left, size=crop, flip=flip)


def apply_crop_flip(frames: np.ndarray, params: CropFlip) -> np.ndarray:
    """Apply one crop and flip to every frame.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB; resized up first when ``min(H, W) < params.size``.
        params: from ``sample_crop_flip`` with the same ``H, W``.

    Returns:
        ``(T, size, size, 3)`` uint8, contiguous.
    """
    _check_frames(frames)
    if min(frames.shape[1:3]) < params.size:
        frames = resize_short_side(frames, params.size)
    height, width = frames.shape[1:3]
    if params.top + params.size > height or params.left + params.size > width:
        raise ValueError(
            f"{__name__}: crop {params} does not fit frames of {height}x{width}; sample it "
            "with sample_crop_flip for these frames."
        )
    crop = frames[:, params.top : params.top + params.size, params.left : params.left + params.size]
    if params.flip:
        crop = crop[:, :, ::-1]
    return np.ascontiguousarray(crop)


def to_normalized_tensor(
    frames: np.ndarray,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> Tensor:
    """``(T, H, W, 3)`` uint8 RGB -> ``(T, 3, H, W)`` float32, ``(x / 255 - mean) / std``.

    The default constants are ImageNet's; CRW's training data uses its own
    (``cyclecorr.data.crw.sample_builder.CRW_MEAN`` / ``CRW_STD``).
    """
    _check_frames(frames)
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (T, 3, H, W)
    images = images.float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (images - mean_t) / std_t
