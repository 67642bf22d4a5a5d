"""Keypoint propagation (JHMDB): joints as heatmaps, propagated, read back as pixels.

Each first-frame joint becomes a Gaussian heatmap on the feature grid (sigma in feature cells,
normalised to sum 1; invisible joints are all-zero), the J heatmaps are propagated like any label
distribution, and each frame's joint is read back as the argmax cell centre or the soft-argmax
(heatmap-weighted mean of cell centres). Coordinates: pixel centre ``u`` (0-based) of the
ORIGINAL frame is at ``u``; feature cell ``j`` of a w-cell grid covers ``[j W/w, (j+1) W/w)`` in
edge coordinates, so its centre is pixel ``(j + 0.5) W / w - 0.5`` (align_corners=False). PCK is
computed with ``cyclecorr.eval.metrics.pck``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import torch
from torch import nn

from cyclecorr.eval.propagation.propagator import LabelPropagator
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.propagation.segmentation import encode_frame


def pixel_to_cell(
    points: np.ndarray, image_size: tuple[int, int], feat_size: tuple[int, int]
) -> np.ndarray:
    """Map (J, 2) xy pixel positions to continuous cell coordinates (cell centres at integers)."""
    scale = np.array([feat_size[1] / image_size[1], feat_size[0] / image_size[0]])  # (2,) x, y
    return (points + 0.5) * scale - 0.5


def cell_to_pixel(
    cells: np.ndarray, image_size: tuple[int, int], feat_size: tuple[int, int]
) -> np.ndarray:
    """Inverse of ``pixel_to_cell``: (J, 2) xy cell coordinates -> pixel positions."""
    scale = np.array([image_size[1] / feat_size[1], image_size[0] / feat_size[0]])  # (2,) x, y
    return (cells + 0.5) * scale - 0.5


def keypoints_to_heatmaps(
    points: np.ndarray,
    visible: np.ndarray,
    image_size: tuple[int, int],
    feat_size: tuple[int, int],
    sigma: float = 0.5,
) -> torch.Tensor:
    """Gaussian heatmaps on the feature grid, one per joint.

    Args:
        points: (J, 2) xy pixel positions in the original frame (pixel centres at integers).
        visible: (J,) bool; invisible joints get an all-zero heatmap.
        image_size: Original ``(H, W)``.
        feat_size: Feature grid ``(h, w)``.
        sigma: Gaussian standard deviation in feature cells.

    Returns:
        (J, h, w) float32, each visible joint's map summing to 1.
    """
    h, w = feat_size
    cells = pixel_to_cell(np.nan_to_num(points), image_size, feat_size)  # (J, 2)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")  # (h, w) each
    c = torch.as_tensor(cells, dtype=torch.float32)
    d2 = (xs[None] - c[:, 0, None, None]) ** 2 + (ys[None] - c[:, 1, None, None]) ** 2  # (J, h, w)
    maps = torch.exp(-d2 / (2 * sigma**2))
    maps = maps / maps.sum(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    return maps * torch.as_tensor(visible, dtype=torch.float32)[:, None, None]


def heatmaps_to_keypoints(
    heatmaps: torch.Tensor,
    image_size: tuple[int, int],
    readout: Literal["argmax", "soft_argmax"] = "argmax",
) -> np.ndarray:
    """Read joint positions from heatmaps.

    Args:
        heatmaps: (J, h, w) non-negative float.
        image_size: Original ``(H, W)``.
        readout: ``argmax`` (centre of the best cell) or ``soft_argmax`` (weighted mean).

    Returns:
        (J, 2) float64 xy pixel positions in the original frame.
    """
    j, h, w = heatmaps.shape
    flat = heatmaps.reshape(j, h * w).double().cpu()  # (J, h*w)
    if readout == "argmax":
        best = flat.argmax(dim=1)
        cells = torch.stack([best % w, best // w], dim=1).double()  # (J, 2) xy
    elif readout == "soft_argmax":
        weights = flat / flat.sum(dim=1, keepdim=True).clamp_min(1e-12)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        grid = torch.stack([xs.flatten(), ys.flatten()], dim=1).double()  # (h*w, 2) xy
        cells = weights @ grid  # (J, 2)
    else:
        raise ValueError(f"{__name__}: readout must be 'argmax' or 'soft_argmax', got {readout!r}")
    return cell_to_pixel(cells.numpy(), image_size, (h, w))


def propagate_keypoints(
    encoder: nn.Module,
    frames: Iterable[np.ndarray],
    points: np.ndarray,
    visible: np.ndarray,
    protocol: PropagationProtocol,
    device: torch.device | str = "cpu",
    sigma: float = 0.5,
    readout: Literal["argmax", "soft_argmax"] = "argmax",
) -> np.ndarray:
    """Propagate first-frame joints through a frame stream.

    Args:
        encoder: Eval encoder on ``device``.
        frames: (H, W, 3) uint8 frames, the first one annotated.
        points: (J, 2) xy first-frame joints (pixels); visible: (J,) bool.
        protocol: Propagation protocol.
        device: Device for encoding and attention.
        sigma: Heatmap width in feature cells.
        readout: ``argmax`` or ``soft_argmax``.

    Returns:
        (T, J, 2) float64 xy joints per frame (frame 0 = the given joints).
    """
    iterator = iter(frames)
    first = next(iterator)
    size = (first.shape[0], first.shape[1])
    feats = encode_frame(encoder, first, protocol, device)  # (C, h, w)
    maps = keypoints_to_heatmaps(points, visible, size, (feats.shape[1], feats.shape[2]), sigma)
    propagator = LabelPropagator(feats, maps, protocol, device=feats.device)
    out = [np.asarray(points, dtype=np.float64)]
    for frame in iterator:
        heat = propagator.step(encode_frame(encoder, frame, protocol, device))  # (J, h, w)
        out.append(heatmaps_to_keypoints(heat, size, readout))
    return np.stack(out)  # (T, J, 2)
