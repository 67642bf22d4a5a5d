"""Where training videos come from: a folder tree of video files, or a frame list.

Two layouts are supported:

- a video tree: any folder searched recursively for video files, e.g. Kinetics
  ``<root>/<split>/<class>/<youtube_id>_<start>_<end>.mp4``;
- a frame list (the release's VLOG preprocessing): a text file with one
  ``<frame_dir> <num_frames>`` line per video, where ``frame_dir`` holds one image per frame
  (a video file path is accepted in place of a folder). Relative paths are resolved against the
  list file's folder, or against ``root`` when given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")

_TREE_LAYOUT = (
    "expected a folder holding video files at any depth, e.g. the Kinetics layout "
    "<root>/<split>/<class>/<video>.mp4 or simply <root>/<video>.mp4"
)


class FrameListEntry(NamedTuple):
    """One line of a frame list: a frame folder (or video file) and its frame count."""

    path: Path
    num_frames: int


def find_videos(root: str | Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """All video files under ``root``, recursively, sorted by path.

    Args:
        root: a folder (symlinked folders are followed) or a single video file.
        extensions: file suffixes to keep, case-insensitive (``".mp4"`` or ``"mp4"``).

    Returns:
        Sorted paths (``root`` joined with the relative path). Hidden files (``.name``, e.g.
        macOS ``._clip.mp4`` resource forks) are ignored.

    Raises:
        FileNotFoundError: ``root`` does not exist, or holds no file with these extensions;
            the message describes the expected layout.
    """
    root = Path(root)
    suffixes = tuple("." + ext.lower().lstrip(".") for ext in extensions)
    if not root.exists():
        raise FileNotFoundError(
            f"{__name__}: video root {root} does not exist; {_TREE_LAYOUT}. Set data.root "
            "to such a folder."
        )
    if root.is_file():
        found = [root] if root.name.lower().endswith(suffixes) else []
    else:
        found = [
            Path(folder) / name
            for folder, _, names in os.walk(root, followlinks=True)
            for name in names
            if name.lower().endswith(suffixes) and not name.startswith(".")
        ]
    if not found:
        raise FileNotFoundError(
            f"{__name__}: found no video files ({', '.join(suffixes)}) under {root} (searched "
            f"recursively); {_TREE_LAYOUT}. Check data.root, or pass extensions= for other "
            "formats."
        )
    return sorted(found)


def _parse_line(line: str, list_file: Path, number: int, base: Path) -> FrameListEntry:
    """One ``<frame_dir> <num_frames>`` line (the path may contain spaces)."""
    fields = line.rsplit(maxsplit=1)
    count = fields[1] if len(fields) == 2 else ""
    if not count.isdigit():
        raise ValueError(
            f"{__name__}: {list_file} line {number}: expected '<frame_dir> <num_frames>' with "
            f"num_frames a non-negative integer, found {line!r}; fix or remove the line."
        )
    path = Path(fields[0])
    return FrameListEntry(path if path.is_absolute() else base / path, int(count))


def read_frame_list(list_file: str | Path, root: str | Path | None = None) -> list[FrameListEntry]:
    """Parse a frame list: one ``<frame_dir> <num_frames>`` per line.

    Blank lines and lines starting with ``#`` are skipped.

    Args:
        list_file: the text file.
        root: folder relative paths are resolved against (default: the list file's folder).

    Returns:
        ``[(path, num_frames), ...]`` in file order (``FrameListEntry`` NamedTuples).

    Raises:
        FileNotFoundError: the list file does not exist.
        ValueError: a malformed line (file and line number named), or no entries at all.
    """
    list_file = Path(list_file)
    if not list_file.is_file():
        raise FileNotFoundError(
            f"{__name__}: frame list {list_file} does not exist; expected a text file with one "
            "'<frame_dir> <num_frames>' line per video. Set data.list_file."
        )
    base = Path(root) if root is not None else list_file.parent
    entries = []
    for number, raw in enumerate(list_file.read_text().splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            entries.append(_parse_line(line, list_file, number, base))
    if not entries:
        raise ValueError(
            f"{__name__}: frame list {list_file} has no entries; expected one "
            "'<frame_dir> <num_frames>' line per video."
        )
    return entries
