"""Reader for the official JHMDB layout (keypoint propagation benchmark).

Layout (as distributed by the JHMDB authors)::

    Rename_Images/<action>/<video>/%05d.png                 frames, 1-based file numbers
    joint_positions/<action>/<video>/joint_positions.mat    MATLAB struct, pos_img (2, 15, T)
    splits/<action>_test_split<k>.txt                       lines "<video>.avi <1|2>"

``pos_img`` holds (x, y) puppet-joint positions in MATLAB's 1-based pixel coordinates; we return
them 0-based (``x - 1, y - 1``: pixel centre ``u`` is at ``u``), shape (T, 15, 2) xy float64.
In the split lists ``1`` marks a training video and ``2`` a test video.

JHMDB annotates all 15 joints in every frame, occluded ones included, so ``visible`` is
derived: a joint is visible when its position is finite and inside the frame
(``0 <= x <= W - 1`` and ``0 <= y <= H - 1``, 0-based). Joint order: ``JOINT_NAMES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from PIL import Image

__all__ = [
    "JOINT_NAMES",
    "JhmdbVideo",
    "jhmdb_split",
    "load_jhmdb",
    "load_jhmdb_video",
]

JOINT_NAMES = (
    "neck",
    "belly",
    "face",
    "right_shoulder",
    "left_shoulder",
    "right_hip",
    "left_hip",
    "right_elbow",
    "left_elbow",
    "right_knee",
    "left_knee",
    "right_wrist",
    "left_wrist",
    "right_ankle",
    "left_ankle",
)
_SUBSET_CODE = {"train": "1", "test": "2"}


class JhmdbVideo(NamedTuple):
    """One JHMDB video with its joints.

    Attributes:
        action: Action class (folder name).
        name: Video name (folder name, no ``.avi``).
        frames: Sorted frame paths, T of them.
        joints: (T, 15, 2) float64 xy positions, 0-based pixel coordinates.
        visible: (T, 15) bool, joint finite and inside the frame.
    """

    action: str
    name: str
    frames: list[Path]
    joints: np.ndarray
    visible: np.ndarray


def jhmdb_split(
    root: str | Path, split: int = 1, subset: Literal["train", "test"] = "test"
) -> list[tuple[str, str]]:
    """``(action, video)`` pairs of one subset of split ``split`` (1, 2 or 3), sorted by action.

    Raises:
        FileNotFoundError: if ``<root>/splits`` holds no ``*_test_split<split>.txt``.
        ValueError: for an unknown subset or a malformed line.
    """
    if subset not in _SUBSET_CODE:
        raise ValueError(f"{__name__}: subset must be 'train' or 'test', found {subset!r}.")
    suffix = f"_test_split{split}.txt"
    lists = sorted(Path(root, "splits").glob(f"*{suffix}"))
    if not lists:
        raise FileNotFoundError(
            f"{__name__}: no {Path(root, 'splits')}/<action>{suffix}; expected the official JHMDB "
            "layout (Rename_Images/, joint_positions/, splits/)."
        )
    pairs = []
    for list_file in lists:
        action = list_file.name[: -len(suffix)]
        for line_no, line in enumerate(list_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or fields[1] not in ("1", "2"):
                raise ValueError(
                    f"{__name__}: {list_file}:{line_no} reads {line!r}, expected '<video>.avi 1|2'."
                )
            if fields[1] == _SUBSET_CODE[subset]:
                pairs.append((action, fields[0].removesuffix(".avi")))
    return pairs


def _read_pos_img(mat_path: Path) -> np.ndarray:
    from scipy.io import loadmat

    if not mat_path.is_file():
        raise FileNotFoundError(f"{__name__}: missing joint file {mat_path}.")
    pos = np.asarray(loadmat(str(mat_path))["pos_img"], dtype=np.float64)
    if pos.ndim == 2:  # a single frame saved without its trailing axis
        pos = pos[:, :, None]
    if pos.shape[:2] != (2, len(JOINT_NAMES)):
        raise ValueError(
            f"{__name__}: {mat_path} pos_img has shape {pos.shape}, expected (2, 15, T)."
        )
    return pos.transpose(2, 1, 0) - 1.0  # (2, 15, T) -> (T, 15, 2), 1-based -> 0-based


def load_jhmdb_video(root: str | Path, action: str, name: str) -> JhmdbVideo:
    """Read the frames list and joints of one video.

    Raises:
        FileNotFoundError: if frames or joints are missing.
        ValueError: if the frame count differs from the number of annotated frames.
    """
    frame_dir = Path(root, "Rename_Images", action, name)
    frames = sorted(frame_dir.glob("*.png"))
    if not frames:
        raise FileNotFoundError(f"{__name__}: no .png frames in {frame_dir}.")
    mat_path = Path(root, "joint_positions", action, name, "joint_positions.mat")
    joints = _read_pos_img(mat_path)  # (T, 15, 2)
    if len(joints) != len(frames):
        raise ValueError(
            f"{__name__}: {mat_path} annotates {len(joints)} frames but {frame_dir} holds "
            f"{len(frames)}; the two must match."
        )
    with Image.open(frames[0]) as image:
        width, height = image.size
    x, y = joints[..., 0], joints[..., 1]
    with np.errstate(invalid="ignore"):
        visible = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    return JhmdbVideo(action, name, frames, joints, visible & np.isfinite(joints).all(axis=-1))


def load_jhmdb(
    root: str | Path, split: int = 1, subset: Literal["train", "test"] = "test"
) -> list[JhmdbVideo]:
    """All videos of one subset of a split (see ``jhmdb_split``)."""
    return [
        load_jhmdb_video(root, action, name) for action, name in jhmdb_split(root, split, subset)
    ]
