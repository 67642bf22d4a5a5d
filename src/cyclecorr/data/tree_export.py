"""A video tree -> JPEG frame folders plus the frame list ``experiment=vlog`` trains on.

``export_tree(root, out)`` finds every video under ``root`` (``sources.find_videos``) and writes
``<out>/<relative path without suffix>/000001.jpg ...`` with ``frame_export.export_video`` in a
process pool, with a progress bar. Then it writes

- ``<out>/frame_list.txt``: one ``<folder relative to out> <num_frames>`` line per finished video,
  the format ``sources.read_frame_list`` parses (relative paths resolve against the list's
  folder, so the tree can be moved), for ``data=frame_list data.list_file=<out>/frame_list.txt``;
- ``<out>/bad_videos.txt``: one ``<video relative to root>\\t<reason>`` line per video that could
  not be exported in this run (empty when none).

Resumable: a video whose folder exists is finished (folders appear by an atomic rename) and is
skipped; its frames are counted from the folder. A bad video never stops the run; it is retried by
the next run. Two runs must not write to the same ``out`` at once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import NamedTuple

from tqdm.auto import tqdm

from cyclecorr.data.frame_export import ExportSettings, check_settings, export_video
from cyclecorr.data.readers.frame_folder import IMAGE_EXTENSIONS
from cyclecorr.data.sources import VIDEO_EXTENSIONS, find_videos

FRAME_LIST_NAME = "frame_list.txt"
BAD_LIST_NAME = "bad_videos.txt"


class VideoResult(NamedTuple):
    """What became of one video.

    Attributes:
        relative: the video's path relative to the root (POSIX separators).
        num_frames: frames in its folder (0 when it failed).
        error: why it failed (None when its folder is finished).
        resumed: its folder was finished by an earlier run (nothing decoded now).
    """

    relative: str
    num_frames: int
    error: str | None = None
    resumed: bool = False


class TreeExport(NamedTuple):
    """The outcome of ``export_tree``.

    Attributes:
        results: one ``VideoResult`` per video, sorted by relative path.
        frame_list: the written frame list.
        bad_list: the written list of bad videos.
    """

    results: list[VideoResult]
    frame_list: Path
    bad_list: Path

    @property
    def bad(self) -> list[VideoResult]:
        """The videos that failed in this run."""
        return [r for r in self.results if r.error is not None]


def frame_folder(out: Path, relative: str) -> Path:
    """``<out>/<relative path without its suffix>``: where a video's frames go."""
    return out / Path(relative).with_suffix("")


def count_frames(folder: Path) -> int:
    """Image files in a finished frame folder."""
    return sum(1 for name in os.listdir(folder) if name.lower().endswith(IMAGE_EXTENSIONS))


def export_one(root: Path, out: Path, relative: str, settings: ExportSettings) -> VideoResult:
    """Export one video, or report why not; never raises for a bad video (pool worker)."""
    try:
        count = export_video(root / relative, frame_folder(out, relative), settings)
    except Exception as err:  # any failure of one video is listed, never fatal for the run
        return VideoResult(relative, 0, f"{type(err).__name__}: {err}")
    return VideoResult(relative, count)


def _run(
    root: Path, out: Path, todo: list[str], settings: ExportSettings, workers: int
) -> Iterator[VideoResult]:
    """Results of ``todo`` as they finish: inline for ``workers <= 1``, else a process pool."""
    if workers <= 1 or len(todo) <= 1:
        for relative in todo:
            yield export_one(root, out, relative, settings)
        return
    # spawn: workers start clean (no inherited threads or torch state), on every platform
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(export_one, root, out, rel, settings) for rel in todo]
        for future in as_completed(futures):
            yield future.result()


def write_lists(out: Path, results: Sequence[VideoResult]) -> tuple[Path, Path]:
    """Write ``frame_list.txt`` (finished videos) and ``bad_videos.txt`` atomically."""
    lines = [
        f"{frame_folder(Path(), r.relative).as_posix()} {r.num_frames}\n"
        for r in results
        if r.error is None
    ]
    bad = [f"{r.relative}\t{r.error}\n" for r in results if r.error is not None]
    paths = []
    for name, content in ((FRAME_LIST_NAME, lines), (BAD_LIST_NAME, bad)):
        path, temporary = out / name, out / f"{name}.{os.getpid()}.tmp"
        temporary.write_text("".join(content))
        os.replace(temporary, path)
        paths.append(path)
    return paths[0], paths[1]


def export_tree(
    root: str | Path,
    out: str | Path,
    settings: ExportSettings | None = None,
    workers: int = 2,
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    progress: bool = True,
) -> TreeExport:
    """Export every video under ``root`` to frame folders under ``out``, resuming.

    Args:
        root: a video tree (``find_videos``: any depth, hidden files ignored).
        out: output folder (created); must not be inside a frame folder of its own.
        settings: frame rate, short side and JPEG quality (default ``ExportSettings()``: 12
            fps, short side 256, quality 95).
        workers: processes decoding videos (``<= 1``: in this process).
        extensions: video suffixes to include.
        progress: show a progress bar over the videos.

    Returns:
        ``TreeExport(results, frame_list, bad_list)``.

    Raises:
        FileNotFoundError: ``root`` is missing or holds no video.
        ValueError: unusable settings.
    """
    settings = ExportSettings() if settings is None else settings
    check_settings(settings)
    root, out = Path(root), Path(out)
    videos = [path.relative_to(root).as_posix() for path in find_videos(root, tuple(extensions))]
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, VideoResult] = {}
    todo = []
    for relative in videos:
        folder = frame_folder(out, relative)
        if folder.is_dir():
            results[relative] = VideoResult(relative, count_frames(folder), resumed=True)
        else:
            todo.append(relative)
    bar = tqdm(
        total=len(videos),
        initial=len(results),
        desc="exporting frames",
        unit="video",
        disable=not progress,
    )
    with bar:
        for result in _run(root, out, todo, settings, workers):
            results[result.relative] = result
            bar.update(1)
    ordered = [results[relative] for relative in videos]
    frame_list, bad_list = write_lists(out, ordered)
    return TreeExport(ordered, frame_list, bad_list)
