"""build_manifest: probes frames/fps/size, records failures, reuses its cache; frame folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import WrittenVideo
from cyclecorr.data import manifest as manifest_module
from cyclecorr.data.manifest import VideoInfo, build_manifest, frame_list_manifest, probe_video
from cyclecorr.data.sources import FrameListEntry


def make_tree(root: Path, video: WrittenVideo) -> list[Path]:
    """Two good copies, a zero-length file and random bytes."""
    root.mkdir(parents=True)
    good = [root / "a.mp4", root / "b.mp4"]
    for path in good:
        shutil.copy(video.path, path)
    (root / "empty.mp4").write_bytes(b"")
    (root / "random.mp4").write_bytes(np.random.default_rng(1).bytes(3000))
    return [*good, root / "empty.mp4", root / "random.mp4"]


@pytest.fixture
def counted_probe(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every path the manifest probes."""
    calls: list[str] = []

    def probe(path: str, backend: str = "auto", folder_fps: float | None = None) -> VideoInfo:
        calls.append(str(path))
        return probe_video(path, backend, folder_fps)

    monkeypatch.setattr(manifest_module, "probe_video", probe)
    return calls


@pytest.mark.parametrize("workers", [1, 2])
def test_probes_videos_and_records_failures(
    workers: int, tmp_path: Path, lossless_video: WrittenVideo
) -> None:
    paths = make_tree(tmp_path / "tree", lossless_video)
    manifest = build_manifest(paths, None, num_workers=workers, progress=False)
    assert manifest.videos == [VideoInfo(str(p), 40, 24.0, 64, 48) for p in paths[:2]]
    assert [path for path, _ in manifest.failed] == [str(p) for p in paths[2:]]
    assert all("VideoReadError" in reason for _, reason in manifest.failed)
    assert "empty" in manifest.failed[0][1]


def test_cache_is_reused_and_only_changed_files_are_probed(
    tmp_path: Path, lossless_video: WrittenVideo, counted_probe: list[str]
) -> None:
    paths = make_tree(tmp_path / "tree", lossless_video)
    cache = tmp_path / "cache" / "manifest.json"
    first = build_manifest(paths, cache, progress=False)
    assert sorted(counted_probe) == sorted(map(str, paths)) and cache.is_file()

    counted_probe.clear()
    assert build_manifest(paths, cache, progress=False) == first
    assert counted_probe == []  # nothing re-probed, failures included

    stat = os.stat(paths[1])
    os.utime(paths[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # "changed" file
    new = tmp_path / "tree" / "c.mp4"
    shutil.copy(lossless_video.path, new)
    third = build_manifest([*paths, new], cache, progress=False)
    assert sorted(counted_probe) == sorted([str(paths[1]), str(new)])
    assert len(third.videos) == 3


def test_damaged_cache_is_rebuilt(
    tmp_path: Path, lossless_video: WrittenVideo, counted_probe: list[str]
) -> None:
    cache = tmp_path / "manifest.json"
    cache.write_text("{not json")
    manifest = build_manifest([lossless_video.path], cache, progress=False)
    assert len(manifest.videos) == 1 and counted_probe == [str(lossless_video.path)]
    assert build_manifest([lossless_video.path], cache, progress=False) == manifest


def test_nothing_readable_is_a_clear_error(tmp_path: Path, lossless_video: WrittenVideo) -> None:
    paths = make_tree(tmp_path / "tree", lossless_video)[2:]
    with pytest.raises(RuntimeError, match="none of the 2 videos") as info:
        build_manifest(paths, None, progress=False)
    assert "empty.mp4" in str(info.value) and "random.mp4" in str(info.value)


def write_folder(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for t in range(count):
        Image.new("RGB", (40, 30), (t, 0, 0)).save(folder / f"{t:05d}.png")
    return folder


def test_frame_list_manifest(tmp_path: Path, lossless_video: WrittenVideo) -> None:
    entries = [
        FrameListEntry(write_folder(tmp_path / "v1", 6), 5),  # extra images: listed count wins
        FrameListEntry(write_folder(tmp_path / "v2", 4), 9),  # too few images: failed
        FrameListEntry(lossless_video.path, 999),  # a video file keeps its probed count
        FrameListEntry(tmp_path / "gone", 3),
    ]
    cache = tmp_path / "list.json"
    manifest = frame_list_manifest(entries, fps=12.0, cache_file=cache, progress=False)
    assert manifest.videos == [
        VideoInfo(str(tmp_path / "v1"), 5, 12.0, 40, 30),
        VideoInfo(str(lossless_video.path), 40, 24.0, 64, 48),
    ]
    reasons = dict(manifest.failed)
    assert "listed with 9 frames, holds 4 images" in reasons[str(tmp_path / "v2")]
    assert "does not exist" in reasons[str(tmp_path / "gone")]
    again = frame_list_manifest(entries, fps=30.0, cache_file=cache, progress=False)
    assert again.videos[0].fps == 30.0  # folder rate comes from the caller, not the cache
