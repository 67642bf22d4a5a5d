"""Image files of a video's frames, decoded lazily as RGB arrays."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np


def read_rgb_frames(paths: Iterable[str | Path]) -> Iterator[np.ndarray]:
    """Decode image files one at a time as (H, W, 3) uint8 RGB."""
    from PIL import Image

    for path in paths:
        with Image.open(path) as image:
            yield np.asarray(image.convert("RGB"))
