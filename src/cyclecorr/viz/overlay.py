"""Label maps blended into frames with their palette colours (evaluation overlays)."""

from __future__ import annotations

import numpy as np


def overlay_mask(
    frame: np.ndarray, mask: np.ndarray, palette: list[int], alpha: float = 0.5
) -> np.ndarray:
    """Blend palette colours of ``mask`` (H, W) ids into ``frame`` (H, W, 3) uint8 (0 left as is).

    Returns:
        (H, W, 3) uint8 image.
    """
    colours = np.asarray(palette[:768], dtype=np.float32).reshape(-1, 3)[mask]  # (H, W, 3)
    blended = frame.astype(np.float32)
    fg = mask > 0
    blended[fg] = (1 - alpha) * blended[fg] + alpha * colours[fg]
    return blended.round().clip(0, 255).astype(np.uint8)
