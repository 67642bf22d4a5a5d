"""Reading and writing the DAVIS-2017 semi-supervised layout.

A DAVIS root holds::

    JPEGImages/<resolution>/<sequence>/%05d.jpg     RGB frames
    Annotations/<resolution>/<sequence>/%05d.png    palette PNGs: 0 background, 1..N objects,
                                                   255 void (pixels left out of the labelling)
    ImageSets/2017/<split>.txt                      one sequence name per line

with ``<resolution>`` ``"480p"`` or ``"Full-Resolution"``. Frames and annotations are listed by
sorted file name, as the official evaluation does; val/train sequences annotate every frame,
test-dev only the first. The palette is the PASCAL VOC colour map (bit-interleaved index bits),
which is what DAVIS annotation files carry; ``davis_palette()`` generates it.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

__all__ = [
    "RESOLUTIONS",
    "VOID_LABEL",
    "DavisSequence",
    "davis_palette",
    "list_sequences",
    "load_sequence",
    "load_split",
    "read_annotation",
    "read_frame",
    "read_palette",
    "write_annotation",
]

RESOLUTIONS = ("480p", "Full-Resolution")
VOID_LABEL = 255
_WHERE = "cyclecorr/eval/davis_io.py"


class DavisSequence(NamedTuple):
    """One DAVIS sequence: its name and sorted frame / annotation files.

    Attributes:
        name: Sequence name (folder name).
        frames: Sorted ``.jpg`` paths, one per frame.
        annotations: Sorted ``.png`` paths (every frame for train/val, the first for test-dev).
    """

    name: str
    frames: list[Path]
    annotations: list[Path]

    @property
    def frame_ids(self) -> list[str]:
        """Frame file stems (``"00000"``, ...), the keys prediction files are matched by."""
        return [path.stem for path in self.frames]


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


def _check_resolution(resolution: str) -> None:
    if resolution not in RESOLUTIONS:
        raise ValueError(
            f"{_WHERE}: resolution must be one of {RESOLUTIONS}, found {resolution!r}."
        )


def list_sequences(davis_root: str | Path, split: str = "val") -> list[str]:
    """Sequence names listed in ``ImageSets/2017/<split>.txt`` (blank lines skipped).

    Raises:
        FileNotFoundError: if the list file does not exist (the message shows the layout).
    """
    list_file = Path(davis_root) / "ImageSets" / "2017" / f"{split}.txt"
    if not list_file.is_file():
        raise FileNotFoundError(
            f"{_WHERE}: no split list {list_file}; a DAVIS root holds ImageSets/2017/<split>.txt, "
            "JPEGImages/<resolution>/<seq>/ and Annotations/<resolution>/<seq>/. "
            "Check CYCLECORR_DATA / the davis root and the split name."
        )
    return [line.strip() for line in list_file.read_text().splitlines() if line.strip()]


def load_sequence(davis_root: str | Path, name: str, resolution: str = "480p") -> DavisSequence:
    """List the frames and annotations of sequence ``name``.

    Raises:
        FileNotFoundError: if the sequence has no frames or no annotation.
    """
    _check_resolution(resolution)
    root = Path(davis_root)
    frame_dir = root / "JPEGImages" / resolution / name
    annotation_dir = root / "Annotations" / resolution / name
    frames = sorted(frame_dir.glob("*.jpg"))
    annotations = sorted(annotation_dir.glob("*.png"))
    if not frames or not annotations:
        raise FileNotFoundError(
            f"{_WHERE}: sequence {name!r} has {len(frames)} frames in {frame_dir} and "
            f"{len(annotations)} annotations in {annotation_dir}; both need at least one file "
            "(.jpg frames, .png annotations). Check the root, resolution and split list."
        )
    return DavisSequence(name, frames, annotations)


def load_split(
    davis_root: str | Path, split: str = "val", resolution: str = "480p"
) -> list[DavisSequence]:
    """All sequences of a split, in list-file order."""
    return [
        load_sequence(davis_root, name, resolution) for name in list_sequences(davis_root, split)
    ]


def read_frame(path: str | Path) -> np.ndarray:
    """Read a frame as (H, W, 3) uint8 RGB."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


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
                f"{_WHERE}: annotation {path} has mode {image.mode!r}, expected a palette ('P') or "
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
            f"{_WHERE}: write_annotation({path}) expects a (H, W) array of ids in 0..255, found "
            f"shape {mask.shape}, dtype {mask.dtype}; pass an argmax label map."
        )
    image = Image.fromarray(mask.astype(np.uint8))  # mode "L"; putpalette turns it into "P"
    image.putpalette(davis_palette() if palette is None else palette)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
