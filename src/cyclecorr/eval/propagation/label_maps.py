"""Label maps between a frame's pixels and its feature grid, with the reference resize rules.

Into the grid: a first-frame id map is resized to the protocol's frame size with PIL's nearest
rule (source pixel ``floor((i + 0.5) * in / out)``: the release's ``scipy.misc.imresize(...,
'nearest')``; a no-op at native size), one-hot encoded, and downsampled to the feature grid either
bilinearly without antialiasing (OpenCV's ``INTER_LINEAR``, both references: at a scale of 8 it
samples the two middle pixels of each 8-pixel block) or by cell averaging (``"area"``).

Out of the grid: label distributions are upsampled bilinearly (half-pixel centres) to a size,
argmaxed, and the index map is resized to the original frame with OpenCV's nearest rule (source
pixel ``floor(i * in / out)``, the references' ``cv2.resize(..., INTER_NEAREST)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_ids_nearest(ids: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest resize of an (H, W) integer map with PIL's pixel-centre rule.

    Returns:
        (H', W') map of the same dtype; ``ids`` itself when the size is unchanged.
    """
    if tuple(ids.shape) == tuple(size):
        return ids
    small = F.interpolate(ids[None, None].float(), size=size, mode="nearest-exact")
    return small[0, 0].to(ids.dtype)  # ids < 2^24 are exact in float32


def labels_at_feature_size(
    positions: torch.Tensor, num_labels: int, size: tuple[int, int], mode: str = "bilinear"
) -> torch.Tensor:
    """One-hot encode a label-index map and downsample it to the feature grid.

    Args:
        positions: (H, W) int64 label indices in [0, num_labels), or -1 for pixels that carry no
            label (an all-zero distribution).
        num_labels: Number of labels ``L``.
        size: Feature-map size ``(h, w)``.
        mode: ``"bilinear"`` (OpenCV ``INTER_LINEAR``: no antialiasing) or ``"area"`` (the
            fraction of each label inside the cell).

    Returns:
        (L, h, w) float32 label weights (each position sums to 1 where every pixel has a label).
    """
    if mode not in ("bilinear", "area"):
        raise ValueError(f"{__name__}: mode must be 'bilinear' or 'area', got {mode!r}")
    classes = torch.arange(num_labels, device=positions.device)[:, None, None]  # (L, 1, 1)
    onehot = (positions[None] == classes).float()  # (L, H, W)
    if mode == "area":
        return F.interpolate(onehot[None], size=size, mode="area")[0]
    return F.interpolate(
        onehot[None], size=size, mode="bilinear", align_corners=False, antialias=False
    )[0]


def upsample_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling (half-pixel centres) of (L, h, w) label weights to ``size`` (H, W)."""
    return F.interpolate(labels[None].float(), size=size, mode="bilinear", align_corners=False)[0]


def labels_to_mask(
    labels: torch.Tensor, size: tuple[int, int], original: tuple[int, int] | None = None
) -> torch.Tensor:
    """Upsample label weights to ``size``, argmax, then nearest-resize to ``original``.

    Args:
        labels: (L, h, w) float label weights.
        size: ``(H', W')`` the bilinear upsampling target (the resized frame).
        original: ``(H, W)`` the frame's own size; ``None`` or equal to ``size`` skips the step.

    Returns:
        (H, W) int64 label indices in [0, L); ties go to the lower index.
    """
    index = upsample_labels(labels, size).argmax(dim=0)  # (H', W')
    if original is None or tuple(original) == tuple(size):
        return index
    return F.interpolate(index[None, None].float(), size=original, mode="nearest")[0, 0].long()
