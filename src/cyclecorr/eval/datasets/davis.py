"""Reading and writing the DAVIS-2017 semi-supervised layout.

A DAVIS root holds::

    JPEGImages/<resolution>/<sequence>/%05d.jpg     RGB frames
    Annotations/<resolution>/<sequence>/%05d.png    palette PNGs: 0 background, 1..N objects,
                                                   255 void (pixels left out of the labelling)
    ImageSets/2017/<split>.txt                      one sequence name per line

with ``<resolution>`` ``"480p"`` or ``"Full-Resolution"``. Frames and annotations are listed by
sorted file name, as the official evaluation does; val/train sequences annotate every frame,
test-dev only the first. The annotation PNG format itself (palette, void id, reading and writing)
lives in ``cyclecorr.data.davis_format``, shared with the generated-video export.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

__all__ = [
    "RESOLUTIONS",
    "DavisSequence",
    "list_sequences",
    "load_sequence",
    "load_split",
    "read_frame",
]

RESOLUTIONS = ("480p", "Full-Resolution")


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


def _check_resolution(resolution: str) -> None:
    if resolution not in RESOLUTIONS:
        raise ValueError(
            f"{__name__}: resolution must be one of {RESOLUTIONS}, found {resolution!r}."
        )


def list_sequences(davis_root: str | Path, split: str = "val") -> list[str]:
    """Sequence names listed in ``ImageSets/2017/<split>.txt`` (blank lines skipped).

    Raises:
        FileNotFoundError: if the list file does not exist (the message shows the layout).
    """
    list_file = Path(davis_root) / "ImageSets" / "2017" / f"{split}.txt"
    if not list_file.is_file():
        raise FileNotFoundError(
            f"{__name__}: no split list {list_file}; a DAVIS root holds "
            "ImageSets/2017/<split>.txt, "
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
            f"{__name__}: sequence {name!r} has {len(frames)} frames in {frame_dir} and "
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
