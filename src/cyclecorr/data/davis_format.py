"""The DAVIS annotation format: palette PNGs of object ids, 0 background, 255 void.

The palette is the PASCAL VOC colour map (bit-interleaved index bits: bit ``3k + c`` of index
``i`` sets bit ``7 - k`` of channel ``c``), which DAVIS annotation files carry; id 1 is dark red
(128, 0, 0), 2 dark green, 3 olive, ..., 255 (void) is (224, 224, 192). One home for the palette,
the void id and PNG reading/writing, used by the DAVIS reader, the evaluation writers and the
generated-video export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

VOID_LABEL = 255


def davis_palette() -> list[int]:
    """The 256-colour DAVIS / PASCAL VOC palette as a flat ``[r0, g0, b0, r1, ...]`` list.

    Colour of index ``i``: bit ``3k + c`` of ``i`` sets bit ``7 - k`` of channel ``c`` (r, g, b),
    so 1 is dark red (128, 0, 0), 2 dark green, 3 olive, ..., 255 is (224, 224, 192).
    """
    palette: list[int] = []
    for index in range(256):
        rgb = [0, 0, 0]
        for k in range(8):
            for channel in range(3):
                rgb[channel] |= ((index >> (3 * k + channel)) & 1) << (7 - k)
        palette.extend(rgb)
    return palette


def read_annotation(path: str | Path) -> np.ndarray:
    """Read an annotation or prediction PNG as (H, W) uint8 label ids.

    Mode ``P`` gives palette indices, mode ``L`` grey values (taken as ids, so a DAVIS-2016
    0/255 mask reads as background/void: convert such masks first).

    Raises:
        ValueError: for any other mode (e.g. an RGB rendering of the mask).
    """
    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise ValueError(
                f"{__name__}: annotation {path} has mode {image.mode!r}, expected a palette ('P') "
                "or "
                "grey ('L') PNG of label ids; save masks with write_annotation()."
            )
        return np.array(image, dtype=np.uint8)


def read_palette(path: str | Path) -> list[int]:
    """Palette of a mode-``P`` PNG as a flat 768-entry list (``davis_palette()`` otherwise)."""
    with Image.open(path) as image:
        palette = image.getpalette() if image.mode == "P" else None
    if palette is None:
        return davis_palette()
    return list(palette) + [0] * (768 - len(palette))


def write_annotation(path: str | Path, mask: np.ndarray, palette: list[int] | None = None) -> None:
    """Write (H, W) label ids as a mode-``P`` PNG with ``palette`` (default: the DAVIS palette).

    Raises:
        ValueError: if ``mask`` is not 2-D or holds values outside 0..255.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0 or mask.min() < 0 or mask.max() > 255:
        raise ValueError(
            f"{__name__}: write_annotation({path}) expects a (H, W) array of ids in 0..255, found "
            f"shape {mask.shape}, dtype {mask.dtype}; pass an argmax label map."
        )
    image = Image.fromarray(mask.astype(np.uint8))  # mode "L"; putpalette turns it into "P"
    image.putpalette(davis_palette() if palette is None else palette)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
