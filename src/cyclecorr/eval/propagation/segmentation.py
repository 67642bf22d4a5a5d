"""Semi-supervised video segmentation by label propagation over a stream of frames.

The glue between raw frames and ``LabelPropagator``, following the protocol's resize rules
(``cyclecorr.eval.protocols``, ``cyclecorr.eval.label_maps``): each frame (H, W, 3) uint8 is
resized bilinearly (antialiased only if the protocol says so), ImageNet-normalised and encoded on
its own (no whole-video tensor); the first frame's ids are nearest-resized to the same size,
labels covering fewer than ``min_label_pixels`` pixels there are dropped, and the rest become
one-hot maps downsampled to the feature grid (void 255 counts as background); every later frame's
distributions are upsampled, argmaxed and resized back to the frame's own size and ids. Used by
the DAVIS runner, the ``propagate`` CLI, the training-time probe and the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cyclecorr.eval.propagation.label_maps import (
    labels_at_feature_size,
    labels_to_mask,
    resize_ids_nearest,
)
from cyclecorr.eval.propagation.propagator import LabelPropagator
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.ops.normalize import normalize

VOID_LABEL = 255


class LabelIds(NamedTuple):
    """The label set of a first-frame mask.

    Attributes:
        ids: (L,) uint8 object ids, background 0 first, void excluded.
        positions: (H, W) int64 index into ``ids`` of every pixel (void mapped to background),
            -1 for the pixels of a dropped label.
    """

    ids: np.ndarray
    positions: np.ndarray


def label_ids(mask: np.ndarray, min_pixels: int = 0) -> LabelIds:
    """Split a first-frame mask (H, W) uint8 into its ids and a per-pixel index into them.

    Args:
        mask: (H, W) uint8 ids, 0 background, 255 void (counted as background).
        min_pixels: Object ids covering fewer pixels are dropped (background is always kept).
    """
    clean = np.where(mask == VOID_LABEL, 0, mask)  # void propagates as background
    values, counts = np.unique(clean, return_counts=True)
    kept = values[(counts >= min_pixels) | (values == 0)]
    ids = np.union1d([0], kept).astype(np.uint8)  # (L,), 0 first
    index = np.searchsorted(ids, clean)
    known = ids[np.minimum(index, len(ids) - 1)] == clean
    return LabelIds(ids, np.where(known, index, -1).astype(np.int64))


def preprocess_frame(
    frame: np.ndarray, protocol: PropagationProtocol, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Resize and normalise one frame.

    Args:
        frame: (H, W, 3) uint8 RGB.
        protocol: Gives the resized size and whether the resize is antialiased.
        device: Target device.

    Returns:
        (1, 3, H', W') float32 ImageNet-normalised, bilinear (half-pixel centres) resize.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(
            f"{__name__}: expected a (H, W, 3) uint8 RGB frame, found shape {frame.shape} dtype "
            f"{frame.dtype}; decode frames with cyclecorr.data.readers.factory.open_video or "
            "cyclecorr.eval.datasets.davis.read_frame"
        )
    size = protocol.resized_size(frame.shape[0], frame.shape[1])
    x = torch.tensor(frame, device=device).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, H, W)
    if size != (frame.shape[0], frame.shape[1]):
        x = F.interpolate(
            x, size=size, mode="bilinear", antialias=protocol.frame_antialias, align_corners=False
        )
    return normalize(x)  # (1, 3, H', W')


@torch.no_grad()
def encode_frame(
    encoder: nn.Module,
    frame: np.ndarray,
    protocol: PropagationProtocol,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Features (C, h, w) of one (H, W, 3) uint8 frame, h = H'/8, w = W'/8."""
    return encoder(preprocess_frame(frame, protocol, device))[0]


def segment_video(
    encoder: nn.Module,
    frames: Iterable[np.ndarray],
    first_mask: np.ndarray,
    protocol: PropagationProtocol,
    device: torch.device | str = "cpu",
) -> Iterator[np.ndarray]:
    """Propagate the first frame's mask through a stream of frames.

    Args:
        encoder: Maps (1, 3, H', W') normalised images to (1, C, H'/8, W'/8); in eval mode and on
            ``device``.
        frames: Iterable of (H, W, 3) uint8 RGB frames, the annotated first frame included; read
            lazily, one at a time.
        first_mask: (H, W) uint8 ids of the first frame (0 background, 255 void).
        protocol: Resize rule, context and attention rule.
        device: Device for encoding and attention.

    Yields:
        (H, W) uint8 predicted ids for every frame after the first, at the frame's own size.
    """
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError(f"{__name__}: segment_video got no frames; pass at least the first frame")
    if first.shape[:2] != first_mask.shape:
        raise ValueError(
            f"{__name__}: the first mask is {first_mask.shape[1]}x{first_mask.shape[0]} but the "
            f"frames are {first.shape[1]}x{first.shape[0]}; resize the mask (nearest) first"
        )
    feats = encode_frame(encoder, first, protocol, device)  # (C, h, w)
    labels, onehot = first_labels(first_mask, protocol, (feats.shape[1], feats.shape[2]))
    propagator = LabelPropagator(feats, onehot.to(feats.device), protocol, device=feats.device)
    for frame in iterator:
        dist = propagator.step(encode_frame(encoder, frame, protocol, device))  # (L, h, w)
        yield labels.ids[mask_indices(dist, frame.shape[:2], protocol)]


def first_labels(
    mask: np.ndarray, protocol: PropagationProtocol, feature_hw: tuple[int, int]
) -> tuple[LabelIds, torch.Tensor]:
    """The first frame's label set and its (L, h, w) float32 one-hot maps on the feature grid.

    Args:
        mask: (H, W) uint8 first-frame ids.
        protocol: Resize size, ``min_label_pixels`` and ``label_downsample``.
        feature_hw: ``(h, w)`` of the first frame's features.
    """
    size = protocol.resized_size(mask.shape[0], mask.shape[1])
    resized = resize_ids_nearest(torch.from_numpy(mask.astype(np.int64)), size).numpy()
    labels = label_ids(resized.astype(np.uint8), protocol.min_label_pixels)
    onehot = labels_at_feature_size(
        torch.from_numpy(labels.positions), len(labels.ids), feature_hw, protocol.label_downsample
    )
    return labels, onehot


def mask_indices(
    dist: torch.Tensor, frame_hw: tuple[int, ...], protocol: PropagationProtocol
) -> np.ndarray:
    """(H, W) int64 label indices of a frame from its (L, h, w) label weights."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    if protocol.output_upsample == "original":
        return labels_to_mask(dist, (height, width)).cpu().numpy()
    size = protocol.resized_size(height, width)
    return labels_to_mask(dist, size, (height, width)).cpu().numpy()
