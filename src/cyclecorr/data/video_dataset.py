"""Training clips from real video: a manifest of videos -> sampled frames -> the sample dict.

Item contract (shared with ``cyclecorr.data.draw_sampler``): ``dataset[draw]`` with
``draw = epoch * len(dataset) + i`` serves video ``draw % len(dataset)``; the clip's randomness
(frame indices, crop, flip, patch) comes from ``np.random.default_rng([seed, draw])``. Each item
opens its video, asks the clip geometry for frame indices (``clip.frame_indices``; for the default
``ClipSpec`` the past frames, the target and the motion frame of ``sample_clip_indices``), reads
them in one ``get_frames`` call (resized to ``short_side`` at decode), and hands them to the
builder, which returns the sample dict (TimeCycle: ``{"frames", "patch", "theta"}``; CRW:
``{"patches"}``); ``index`` (the draw actually served) and ``skipped`` are added.

Bad videos never stop training: a ``VideoReadError`` or ``ClipTooShortError`` warns once per
file (per process), marks the video bad, and the item moves to another video chosen by
``default_rng([seed, draw, 1])``. Replacement attempt ``k >= 1`` draws its clip from
``default_rng([seed, draw, k + 1])`` and is served as ``index = epoch * n + video``. Every
generator depends only on ``(seed, draw)``, not on which videos are already known bad, so the
result is the same in every worker. (Salts are never 0: numpy seeds ``[a, b]`` and ``[a, b, 0]``
give the same stream.)
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cyclecorr.data.clips import ClipSampler, ClipTooShortError
from cyclecorr.data.manifest import Manifest, VideoInfo, build_manifest, frame_list_manifest
from cyclecorr.data.readers.base import VideoReadError
from cyclecorr.data.readers.factory import open_video
from cyclecorr.data.sources import VIDEO_EXTENSIONS, find_videos, read_frame_list
from cyclecorr.data.timecycle.clips import ClipSpec

ClipBuilder = Callable[[np.ndarray, np.random.Generator], dict[str, Tensor]]
_FALLBACK_SALT = 1  # generator choosing replacement videos: [seed, draw, 1]
_FAILURES_SHOWN = 3


def _default_builder() -> ClipBuilder:
    from cyclecorr.data.timecycle.sample_builder import SampleBuilder

    return SampleBuilder()


class VideoClipDataset(Dataset):
    """One training clip per video per epoch, from a list of probed videos.

    Args:
        videos: usable videos (``VideoInfo``: path, num_frames, fps, width, height); videos with
            fewer than 2 frames are left out with a warning.
        clip: which frames make a clip, any ``ClipSampler`` (default ``ClipSpec()``; CRW:
            ``CRWClipSpec``).
        builder: ``(frames (F, H, W, 3) uint8, rng) -> sample dict``, e.g. ``SampleBuilder``
            (TimeCycle, the default) or ``CRWSampleBuilder`` (CRW); it must take the frames the
            clip's ``frame_indices`` reads.
        short_side: frames are resized to this short side at decode time (None: native size).
        backend: reader backend, ``"auto"`` | ``"decord"`` | ``"pyav"`` | ``"torchcodec"``.
        seed: seed of every clip's randomness (0 is valid).
        max_consecutive_failures: an item that skips more unreadable videos than this raises.

    Items: the builder's dict plus ``index`` (int64 scalar, the draw served) and ``skipped``
    (int64 scalar, unreadable videos skipped to serve it).
    """

    def __init__(
        self,
        videos: Sequence[VideoInfo],
        clip: ClipSampler | None = None,
        builder: ClipBuilder | None = None,
        short_side: int | None = 256,
        backend: str = "auto",
        seed: int = 0,
        max_consecutive_failures: int = 100,
    ) -> None:
        self.videos = _usable(videos)
        self.clip: ClipSampler = clip if clip is not None else ClipSpec()
        self.builder = builder if builder is not None else _default_builder()
        crop = getattr(self.builder, "crop_size", None)
        if short_side is not None and crop is not None and short_side < crop:
            raise ValueError(
                f"{__name__}: short_side ({short_side}) must be >= the builder's crop_size "
                f"({crop}); frames are cropped after the resize. Raise data.short_side."
            )
        self.short_side = short_side
        self.backend = backend
        self.seed = seed
        self.max_consecutive_failures = max_consecutive_failures
        self.bad: dict[int, str] = {}  # video id -> reason, per process

    def __len__(self) -> int:
        return len(self.videos)

    def read_clip(self, video_id: int, rng: np.random.Generator) -> np.ndarray:
        """Frames ``(F, H, W, 3)`` uint8 of one clip of ``video_id``, in the order
        ``clip.frame_indices`` gives them (``ClipSpec``: past frames oldest first, target, motion
        frame, ``F = clip_len + 2``). Raises VideoReadError / ClipTooShortError."""
        info = self.videos[video_id]
        wanted = self.clip.frame_indices(info.num_frames, info.fps, rng)
        reader = open_video(info.path, self.backend, self.short_side, fps=info.fps)
        try:
            return reader.get_frames(wanted)
        finally:
            reader.close()

    def _mark_bad(self, video_id: int, error: Exception) -> None:
        """Remember a bad video and warn about it (once per file in this process)."""
        if video_id in self.bad:
            return
        self.bad[video_id] = f"{type(error).__name__}: {error}"
        path = self.videos[video_id].path
        warnings.warn(
            f"{__name__}: skipping unreadable video {path} ({self.bad[video_id]}); "
            "another video is served in its place.",
            RuntimeWarning,
            stacklevel=3,
        )

    def _too_many_failures(self, draw: int, skipped: int, video_id: int) -> RuntimeError:
        path = self.videos[video_id].path
        return RuntimeError(
            f"{__name__}: {skipped} unreadable videos in a row while serving draw {draw} "
            f"({len(self.bad)} of {len(self)} videos known bad; last: {path}: "
            f"{self.bad.get(video_id)}). Check the video files and the backend "
            f"({self.backend!r}), or raise max_consecutive_failures."
        )

    def __getitem__(self, draw: int) -> dict[str, Tensor]:
        draw = int(draw)
        if draw < 0:
            raise IndexError(f"{__name__}: draw must be >= 0, found {draw}.")
        num_videos = len(self)
        epoch_start, video_id = draw - draw % num_videos, draw % num_videos
        fallback = np.random.default_rng([self.seed, draw, _FALLBACK_SALT])
        skipped = 0
        while True:
            salt = [] if skipped == 0 else [skipped + _FALLBACK_SALT]
            rng = np.random.default_rng([self.seed, draw, *salt])
            if video_id not in self.bad:
                try:
                    frames = self.read_clip(video_id, rng)
                    break
                except (VideoReadError, ClipTooShortError) as error:
                    self._mark_bad(video_id, error)
            skipped += 1
            if skipped > self.max_consecutive_failures or len(self.bad) == num_videos:
                raise self._too_many_failures(draw, skipped, video_id)
            video_id = int(fallback.integers(num_videos))
        sample = self.builder(frames, rng)
        sample["index"] = torch.tensor(epoch_start + video_id, dtype=torch.int64)
        sample["skipped"] = torch.tensor(skipped, dtype=torch.int64)
        return sample


def _usable(videos: Sequence[VideoInfo]) -> list[VideoInfo]:
    """Videos with at least 2 frames (a clip needs 2); warns about the others."""
    usable = [info for info in videos if info.num_frames >= 2]
    if not usable:
        raise ValueError(
            f"{__name__}: none of the {len(videos)} given videos has 2 or more frames; "
            "a clip needs at least 2. Check the data source."
        )
    if len(usable) < len(videos):
        short = [info.path for info in videos if info.num_frames < 2]
        warnings.warn(
            f"{__name__}: {len(short)} videos have fewer than 2 frames and are left out "
            f"(e.g. {short[:_FAILURES_SHOWN]}).",
            RuntimeWarning,
            stacklevel=3,
        )
    return usable


def manifest_cache_file(cache_dir: str | Path | None, kind: str, key: object) -> Path | None:
    """``<cache_dir>/manifest-<kind>-<hash of key>.json`` (None without a cache dir)."""
    if cache_dir is None:
        return None
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"manifest-{kind}-{digest}.json"


def warn_failed(manifest: Manifest, source: str, cache_file: Path | None) -> None:
    """One warning summarising the videos the manifest found unreadable."""
    if not manifest.failed:
        return
    total = len(manifest.failed) + len(manifest.videos)
    examples = "; ".join(f"{path}: {why}" for path, why in manifest.failed[:_FAILURES_SHOWN])
    warnings.warn(
        f"{__name__}: {len(manifest.failed)} of {total} videos in {source} are unreadable "
        f"and left out (e.g. {examples}); the list is cached in {cache_file}.",
        RuntimeWarning,
        stacklevel=3,
    )


class VideoTreeDataset(VideoClipDataset):
    """Clips from every video under one or more folders (Kinetics tree or any folder).

    The manifest is built in ``__init__`` (cached under ``cache_dir`` in a file named from a
    hash of the resolved roots and extensions, so later runs and other ranks only re-probe
    changed files); then this is a ``VideoClipDataset`` over the usable videos.

    Args:
        root: a folder, or a list of folders, searched recursively (``find_videos``).
        cache_dir: where the manifest cache lives (None: no cache).
        clip, builder, short_side, backend, seed, max_consecutive_failures: as for
            ``VideoClipDataset``.
        extensions: video file suffixes to include.
        scan_workers: probing threads.
        progress: show a progress bar while probing.
    """

    def __init__(
        self,
        root: str | Path | Sequence[str | Path],
        cache_dir: str | Path | None = None,
        clip: ClipSampler | None = None,
        builder: ClipBuilder | None = None,
        short_side: int | None = 256,
        backend: str = "auto",
        seed: int = 0,
        extensions: Sequence[str] = VIDEO_EXTENSIONS,
        scan_workers: int = 2,
        max_consecutive_failures: int = 100,
        progress: bool = True,
    ) -> None:
        roots = [root] if isinstance(root, str | Path) else list(root)
        resolved = [str(Path(r).expanduser().resolve()) for r in roots]
        paths = [path for r in resolved for path in find_videos(r, tuple(extensions))]
        cache_file = manifest_cache_file(cache_dir, "tree", [resolved, sorted(extensions)])
        manifest = build_manifest(paths, cache_file, scan_workers, backend, progress)
        warn_failed(manifest, ", ".join(resolved), cache_file)
        self.roots = resolved
        self.failed = manifest.failed  # (path, reason) of the videos left out
        super().__init__(
            manifest.videos, clip, builder, short_side, backend, seed, max_consecutive_failures
        )


class FrameListDataset(VideoClipDataset):
    """Clips from a frame list (the release's VLOG preprocessing; ``read_frame_list``).

    Args:
        list_file: text file, one ``<frame_dir> <num_frames>`` line per video (a video file path
            may replace the folder).
        cache_dir: where the manifest cache lives (None: no cache).
        clip, builder, short_side, backend, seed, max_consecutive_failures: as for
            ``VideoClipDataset``.
        frame_root: folder relative entries are resolved against (default: the list's folder).
        fps: rate the frames were extracted at. The default 12.0 equals ``ClipSpec.target_fps``
            so clip offsets count extracted frames one to one (the release's indexing).
        scan_workers: probing threads.
        progress: show a progress bar while probing.
    """

    def __init__(
        self,
        list_file: str | Path,
        cache_dir: str | Path | None = None,
        clip: ClipSampler | None = None,
        builder: ClipBuilder | None = None,
        short_side: int | None = 256,
        backend: str = "auto",
        seed: int = 0,
        frame_root: str | Path | None = None,
        fps: float = 12.0,
        scan_workers: int = 2,
        max_consecutive_failures: int = 100,
        progress: bool = True,
    ) -> None:
        list_path = Path(list_file).expanduser().resolve()
        entries = read_frame_list(list_path, frame_root)
        key = [str(list_path), str(frame_root)]
        cache_file = manifest_cache_file(cache_dir, "list", key)
        manifest = frame_list_manifest(entries, fps, cache_file, scan_workers, backend, progress)
        warn_failed(manifest, str(list_path), cache_file)
        self.list_file = list_path
        self.failed = manifest.failed  # (path, reason) of the videos left out
        super().__init__(
            manifest.videos, clip, builder, short_side, backend, seed, max_consecutive_failures
        )
