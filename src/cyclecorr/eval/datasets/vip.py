"""Reader for the VIP (Video Instance-level Parsing) layout, human-part propagation benchmark.

Layout (VIP_Fine as distributed)::

    Images/<video>/<frame>.jpg          RGB frames
    Category_ids/<video>/<frame>.png    (H, W) uint8 part class ids 0..19 (0 background),
                                        255 ignore; only annotated frames have a file
    lists/<split>_videos.txt            one video name per line (e.g. lists/val_videos.txt)

Frames are sorted by file name; an annotation belongs to the frame with the same stem. Every
frame is propagated, and only frames with an annotation are scored (``annotations[t]`` is None
for the others).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

__all__ = [
    "NUM_CLASSES",
    "VIP_IGNORE",
    "VipVideo",
    "list_vip_videos",
    "load_vip",
    "load_vip_video",
    "read_vip_labels",
]

NUM_CLASSES = 20
VIP_IGNORE = 255


class VipVideo(NamedTuple):
    """One VIP video.

    Attributes:
        name: Video folder name.
        frames: Sorted ``.jpg`` frame paths (T).
        annotations: For each frame, its ``Category_ids`` PNG, or None if not annotated (T).
    """

    name: str
    frames: list[Path]
    annotations: list[Path | None]

    @property
    def annotated(self) -> list[int]:
        """Indices of the frames that have an annotation."""
        return [t for t, path in enumerate(self.annotations) if path is not None]


def list_vip_videos(root: str | Path, split: str = "val") -> list[str]:
    """Video names of ``lists/<split>_videos.txt`` (blank lines skipped).

    Raises:
        FileNotFoundError: if the list file is missing.
    """
    list_file = Path(root, "lists", f"{split}_videos.txt")
    if not list_file.is_file():
        raise FileNotFoundError(
            f"{__name__}: no video list {list_file}; expected the VIP layout "
            "(Images/<video>/, Category_ids/<video>/, lists/<split>_videos.txt)."
        )
    return [line.strip() for line in list_file.read_text().splitlines() if line.strip()]


def load_vip_video(root: str | Path, name: str) -> VipVideo:
    """List the frames and annotations of one video.

    Raises:
        FileNotFoundError: if the video has no frame or no annotation at all.
    """
    frame_dir = Path(root, "Images", name)
    label_dir = Path(root, "Category_ids", name)
    frames = sorted(frame_dir.glob("*.jpg"))
    labels = {path.stem: path for path in label_dir.glob("*.png")}
    annotations = [labels.get(frame.stem) for frame in frames]
    if not frames or all(path is None for path in annotations):
        raise FileNotFoundError(
            f"{__name__}: video {name!r} has {len(frames)} frames in {frame_dir} and no matching "
            f"annotation in {label_dir}; each .png must share its .jpg frame's name."
        )
    return VipVideo(name, frames, annotations)


def load_vip(root: str | Path, split: str = "val") -> list[VipVideo]:
    """All videos of a split list."""
    return [load_vip_video(root, name) for name in list_vip_videos(root, split)]


def read_vip_labels(path: str | Path) -> np.ndarray:
    """Read a ``Category_ids`` PNG as (H, W) uint8 ids (0..19, 255 ignore).

    Raises:
        ValueError: if the file is not single-channel or holds ids outside 0..19 and 255.
    """
    with Image.open(path) as image:
        if image.mode not in ("L", "P"):
            raise ValueError(
                f"{__name__}: {path} has mode {image.mode!r}, expected a single-channel id map."
            )
        labels = np.array(image, dtype=np.uint8)
    bad = (labels >= NUM_CLASSES) & (labels != VIP_IGNORE)
    if bad.any():
        raise ValueError(
            f"{__name__}: {path} holds ids {sorted(set(labels[bad].tolist()))}, expected "
            f"0..{NUM_CLASSES - 1} or {VIP_IGNORE} (ignore)."
        )
    return labels
