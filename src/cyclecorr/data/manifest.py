"""A manifest of usable videos: frame count, frame rate and size of each, probed once and cached.

``build_manifest`` opens every video (or frame folder) with ``cyclecorr.data.readers.factory`` in a
thread pool (the decoders release the GIL; threads also keep the probe patchable in tests),
shows a progress bar, and records unreadable ones with their reason instead of stopping. The
result is cached as JSON keyed by path, size and modification time, so a re-run probes only new
or changed files (a 300K-video tree is scanned once). Probing reads container headers and
indexes packets; it does not decode frames, so a file whose data is corrupt past its header is
caught later, when a dataset reads it (and skips it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from tqdm.auto import tqdm

from cyclecorr.data.readers.base import VideoReadError
from cyclecorr.data.readers.factory import open_video
from cyclecorr.data.sources import FrameListEntry

CACHE_VERSION = 1
_REASONS_SHOWN = 5


class VideoInfo(NamedTuple):
    """Metadata of one usable video.

    Attributes:
        path: the video file or frame folder.
        num_frames: decodable frames (>= 1).
        fps: frames per second (> 0).
        width: native frame width in pixels (before any resize).
        height: native frame height in pixels.
    """

    path: str
    num_frames: int
    fps: float
    width: int
    height: int


class Manifest(NamedTuple):
    """Usable videos (input order) and the unusable ones as ``(path, reason)``."""

    videos: list[VideoInfo]
    failed: list[tuple[str, str]]


def probe_video(
    path: str | Path, backend: str = "auto", folder_fps: float | None = None
) -> VideoInfo:
    """Frame count, frame rate and native size of one video file or frame folder.

    Raises:
        VideoReadError: the file cannot be opened, has no frames or no frame rate.
    """
    reader = open_video(path, backend=backend, fps=folder_fps)
    try:
        num_frames, fps = len(reader), reader.fps
        width, height = reader.size
    finally:
        reader.close()
    if num_frames < 1:
        raise VideoReadError(f"{__name__}: {path} has no frames.")
    return VideoInfo(str(path), int(num_frames), float(fps), int(width), int(height))


def _probe_or_reason(path: str, backend: str, folder_fps: float | None) -> dict[str, Any]:
    """A cache record: ``{"info": [...]}`` or ``{"error": reason}`` (never raises on bad data)."""
    try:
        return {"info": list(probe_video(path, backend, folder_fps))}
    except (VideoReadError, OSError, ValueError) as err:
        return {"error": f"{type(err).__name__}: {err}"}


def _file_key(path: str) -> list[int] | None:
    """``[size, mtime_ns]`` identifying a file's version; None when it cannot be stat-ed."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def load_cache(cache_file: Path | None) -> dict[str, dict[str, Any]]:
    """Cached records by path (``{}`` when absent, unreadable, or from another version)."""
    if cache_file is None or not cache_file.is_file():
        return {}
    try:
        data = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}  # a damaged cache only costs a re-probe
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    return dict(data.get("entries", {}))


def save_cache(cache_file: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write the cache atomically (a temporary file renamed over the old one)."""
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"version": CACHE_VERSION, "entries": entries}))
    os.replace(temporary, cache_file)


def _map(function: Callable[[str], dict[str, Any]], items: list[str], workers: int) -> Iterable:
    """``map`` in a thread pool (in order), or inline for ``workers <= 1``."""
    if workers <= 1 or len(items) <= 1:
        return map(function, items)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def _probe_all(
    todo: list[str], backend: str, folder_fps: float | None, workers: int, progress: bool
) -> dict[str, dict[str, Any]]:
    """Probe records for ``todo`` paths, with a progress bar."""
    bar = tqdm(
        total=len(todo), desc="probing videos", unit="video", disable=not (progress and todo)
    )

    def probe(path: str) -> dict[str, Any]:
        record = _probe_or_reason(path, backend, folder_fps)
        bar.update(1)
        return record

    try:
        return dict(zip(todo, _map(probe, todo, workers), strict=True))
    finally:
        bar.close()


def raise_if_empty(manifest: Manifest, what: str) -> None:
    """Raise RuntimeError listing a few reasons when no video of ``what`` is usable."""
    if manifest.videos:
        return
    reasons = "; ".join(f"{path}: {why}" for path, why in manifest.failed[:_REASONS_SHOWN])
    raise RuntimeError(
        f"{__name__}: none of the {len(manifest.failed)} videos of {what} could be read. "
        f"First reasons: {reasons}. Check that the files are videos ffmpeg can decode, or try "
        "another backend (backend='pyav' or 'decord')."
    )


def _split(
    names: list[str], records: dict[str, dict[str, Any]], folder_fps: float | None
) -> tuple[list[VideoInfo], list[tuple[str, str]]]:
    """Usable ``VideoInfo``s and ``(path, reason)`` failures, in ``names`` order. Frame folders
    take ``folder_fps`` (the cache may hold a rate from an earlier run)."""
    videos, failed = [], []
    for name in names:
        record = records[name]
        if "error" in record or "info" not in record:
            failed.append((name, str(record.get("error", "not probed"))))
            continue
        info = VideoInfo(*record["info"])
        if folder_fps is not None and Path(name).is_dir():
            info = info._replace(fps=float(folder_fps))
        videos.append(info)
    return videos, failed


def build_manifest(
    paths: Sequence[str | Path],
    cache_file: Path | None = None,
    num_workers: int = 2,
    backend: str = "auto",
    progress: bool = True,
    folder_fps: float | None = None,
) -> Manifest:
    """Probe ``paths`` (reusing the cache for unchanged files) into a ``Manifest``.

    Args:
        paths: video files or frame folders.
        cache_file: JSON cache (created or updated); None disables caching.
        num_workers: probing threads (<= 1 probes inline).
        backend: reader backend (``"auto"``, ``"decord"``, ``"pyav"``, ``"torchcodec"``).
        progress: show a progress bar while probing.
        folder_fps: frame rate of frame folders (required when ``paths`` holds folders).

    Returns:
        ``Manifest(videos, failed)``, both in the order of ``paths``.

    Raises:
        RuntimeError: no path is usable (the message lists the first reasons).
    """
    names = [str(path) for path in paths]
    cached = load_cache(cache_file)
    keys = {name: _file_key(name) for name in names}
    todo = [
        n
        for n in dict.fromkeys(names)
        if keys[n] is None or cached.get(n, {}).get("key") != keys[n]
    ]
    probed = _probe_all(todo, backend, folder_fps, num_workers, progress)
    records = {
        name: {**probed.get(name, cached.get(name, {})), "key": keys[name]} for name in names
    }
    if cache_file is not None and todo:
        save_cache(cache_file, records)
    videos, failed = _split(names, records, folder_fps)
    manifest = Manifest(videos, failed)
    raise_if_empty(manifest, f"{len(names)} paths" if names else "an empty path list")
    return manifest


def frame_list_manifest(
    entries: Sequence[FrameListEntry],
    fps: float,
    cache_file: Path | None = None,
    num_workers: int = 2,
    backend: str = "auto",
    progress: bool = True,
) -> Manifest:
    """A manifest for a frame list: frame folders at ``fps`` (video files probed as usual).

    A folder holding fewer images than its line announces is marked failed (an interrupted
    frame extraction); otherwise the listed count is used. Video files keep their probed count.
    """
    probed = build_manifest(
        [e.path for e in entries], cache_file, num_workers, backend, progress, fps
    )
    by_path = {info.path: info for info in probed.videos}
    videos, failed = [], list(probed.failed)
    for entry in entries:
        info = by_path.get(str(entry.path))
        if info is None:
            continue  # already in probed.failed
        if not entry.path.is_dir():
            videos.append(info)  # a video file: its own frame count is the truth
        elif info.num_frames < entry.num_frames:
            reason = f"listed with {entry.num_frames} frames, holds {info.num_frames} images"
            failed.append((info.path, reason))
        else:
            videos.append(info._replace(num_frames=entry.num_frames))
    manifest = Manifest(videos, failed)
    raise_if_empty(manifest, "the frame list")
    return manifest
