"""Heatmaps: a scalar map in any range coloured with a fixed perceptual-ish ramp and blended
over an image. No matplotlib: the ramp is a piecewise-linear dark-blue -> cyan -> yellow -> red
table, so a value's colour is reproducible and testable (0 -> dark blue, 1 -> dark red).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

# (position in [0, 1], RGB) stops of the colour ramp
RAMP = (
    (0.0, (0, 0, 96)),
    (0.25, (0, 96, 255)),
    (0.5, (0, 224, 224)),
    (0.75, (255, 224, 0)),
    (1.0, (160, 0, 0)),
)


def normalize01(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by min/max (a constant map becomes all zeros)."""
    values = np.asarray(values, np.float64)
    low, high = float(values.min()), float(values.max())
    if high - low <= 0:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def colorize(values: np.ndarray | torch.Tensor, normalize: bool = True) -> np.ndarray:
    """Colour a 2D map.

    Args:
        values: ``(h, w)`` floats; in [0, 1] unless ``normalize`` (min/max scaled first).
        normalize: rescale by min/max before colouring.

    Returns:
        ``(h, w, 3)`` uint8 RGB.
    """
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
    array = normalize01(array) if normalize else np.clip(np.asarray(array, np.float64), 0, 1)
    stops = np.array([s for s, _ in RAMP])
    colors = np.array([c for _, c in RAMP], np.float64)  # (5, 3)
    channels = [np.interp(array, stops, colors[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)  # (h, w, 3)


def overlay_heatmap(
    image: np.ndarray, values: np.ndarray | torch.Tensor, alpha: float = 0.5
) -> np.ndarray:
    """Blend a coloured heatmap (bilinearly resized to the image) over an image.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        values: ``(h, w)`` map over the same field of view (e.g. feature cells).
        alpha: heatmap weight in [0, 1].

    Returns:
        ``(H, W, 3)`` uint8.
    """
    height, width = image.shape[:2]
    colored = Image.fromarray(colorize(values)).resize((width, height), Image.Resampling.BILINEAR)
    blend = (1 - alpha) * image.astype(np.float64) + alpha * np.asarray(colored, np.float64)
    return blend.round().clip(0, 255).astype(np.uint8)
