"""``python -m cyclecorr.prepare``: a video tree -> 12 fps JPEG folders, a frame list, a bad list.

A generated tree holds two lossless moving-square videos (24 and 30 fps, in class folders) and
one corrupt file; the export is checked frame by frame against the known pixels (JPEG-close),
the lists against their formats, a resumed run against the first, and ``FrameListDataset``
reads the result.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import VideoFactory, WrittenVideo
from cyclecorr.data.frame_export import (
    ExportSettings,
    export_video,
    resample_indices,
    source_index,
)
from cyclecorr.data.readers.base import VideoReadError
from cyclecorr.data.sources import read_frame_list
from cyclecorr.data.timecycle.sample_builder import SampleBuilder
from cyclecorr.data.tree_export import export_tree
from cyclecorr.data.video_dataset import FrameListDataset
from cyclecorr.prepare import main

# frames keep their size (short side 48 = the videos'), so JPEG pixels compare to the originals
KEEP_SIZE = ExportSettings(fps=12.0, short_side=48, quality=95)


def test_nearest_frame_resampling_rule() -> None:
    assert resample_indices(10, 24.0, 12.0) == [0, 2, 4, 6, 8]
    # 25 -> 12 fps: j * 25/12 = 0, 2.08, 4.17, 6.25, 8.33, 10.42, 12.5 (half up: 13), 14.58
    assert resample_indices(16, 25.0, 12.0) == [0, 2, 4, 6, 8, 10, 13, 15]
    assert resample_indices(4, 6.0, 12.0) == [0, 1, 1, 2, 2, 3, 3]  # slower video: repeats
    assert source_index(1, 30.0, 12.0) == 3  # 2.5 rounds up
    assert len(resample_indices(300, 30.0, 12.0)) == 120  # 10 s -> 120 frames


@pytest.fixture
def video_tree(tmp_path: Path, make_video: VideoFactory) -> tuple[Path, dict[str, WrittenVideo]]:
    """``root/{walk/a.mp4 (24 fps, 40 frames), run/b.mp4 (30 fps, 45 frames)}`` + a corrupt
    ``run/broken.mp4``."""
    root = tmp_path / "videos"
    videos = {
        "walk/a.mp4": make_video(root / "walk" / "a.mp4", num_frames=40, fps=24.0, seed=1),
        "run/b.mp4": make_video(root / "run" / "b.mp4", num_frames=45, fps=30.0, seed=2),
    }
    (root / "run" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    return root, videos


def read_folder(folder: Path) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames of a folder, in name order."""
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in sorted(folder.iterdir())])


def test_export_tree_writes_frames_lists_and_bad_videos(
    tmp_path: Path, video_tree: tuple[Path, dict[str, WrittenVideo]]
) -> None:
    root, videos = video_tree
    out = tmp_path / "frames"
    result = export_tree(root, out, KEEP_SIZE, workers=2, progress=False)
    for relative, video in videos.items():
        folder = out / relative.removesuffix(".mp4")
        names = sorted(p.name for p in folder.iterdir())
        wanted = resample_indices(len(video.frames), video.fps, 12.0)
        assert names == [f"{n:06d}.jpg" for n in range(1, len(wanted) + 1)]  # 1-based %06d
        frames = read_folder(folder)
        assert frames.shape == (len(wanted), 48, 64, 3)
        # (T_out, T_in) mean absolute difference of every exported frame to every source frame
        diff = np.abs(frames[:, None].astype(np.int16) - video.frames[None].astype(np.int16))
        nearest = diff.mean(axis=(2, 3, 4)).argmin(axis=1)
        assert nearest.tolist() == wanted  # each JPEG is its own source frame, not a neighbour
    assert len(read_folder(out / "walk" / "a")) == 20  # 40 frames at 24 fps -> 12 fps
    assert len(read_folder(out / "run" / "b")) == 18  # 45 frames at 30 fps -> 12 fps
    assert (out / "frame_list.txt").read_text() == "run/b 18\nwalk/a 20\n"
    bad = (out / "bad_videos.txt").read_text().splitlines()
    assert len(bad) == 1 and bad[0].startswith("run/broken.mp4\tVideoReadError: ")
    assert [r.relative for r in result.bad] == ["run/broken.mp4"]
    assert not list(out.rglob("*.partial"))
    entries = read_frame_list(out / "frame_list.txt")
    assert [(e.path, e.num_frames) for e in entries] == [(out / "run/b", 18), (out / "walk/a", 20)]


def test_resume_skips_finished_videos_and_redoes_a_deleted_one(
    tmp_path: Path, video_tree: tuple[Path, dict[str, WrittenVideo]]
) -> None:
    root, _ = video_tree
    out = tmp_path / "frames"
    export_tree(root, out, KEEP_SIZE, workers=1, progress=False)
    first = read_folder(out / "walk" / "a")
    kept_mtime = (out / "run" / "b" / "000001.jpg").stat().st_mtime_ns
    shutil.rmtree(out / "walk" / "a")
    (out / "walk" / "a.partial").mkdir()  # what a killed run leaves behind
    (out / "walk" / "a.partial" / "000001.jpg").write_bytes(b"half")
    result = export_tree(root, out, KEEP_SIZE, workers=1, progress=False)
    by_name = {r.relative: r for r in result.results}
    assert by_name["run/b.mp4"].resumed and by_name["run/b.mp4"].num_frames == 18
    assert not by_name["walk/a.mp4"].resumed and by_name["walk/a.mp4"].num_frames == 20
    assert (out / "run" / "b" / "000001.jpg").stat().st_mtime_ns == kept_mtime  # not rewritten
    assert np.array_equal(read_folder(out / "walk" / "a"), first)
    assert not (out / "walk" / "a.partial").exists()
    assert (out / "frame_list.txt").read_text() == "run/b 18\nwalk/a 20\n"


def test_a_failed_export_leaves_no_folder(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoReadError, match="broken.mp4"):
        export_video(broken, tmp_path / "out" / "broken", KEEP_SIZE)
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(ValueError, match="quality"):
        export_video(broken, tmp_path / "x", ExportSettings(quality=100))


def test_cli_resizes_and_the_frame_list_dataset_reads_the_result(
    tmp_path: Path,
    video_tree: tuple[Path, dict[str, WrittenVideo]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _ = video_tree
    out = tmp_path / "frames"
    main(["--root", str(root), "--out", str(out), "--short-side", "72", "--workers", "1"])
    printed = capsys.readouterr().out
    assert "videos:     3 found" in printed and "bad:        1" in printed
    assert "experiment=vlog data.list_file=" in printed
    assert Image.open(out / "walk" / "a" / "000001.jpg").size == (96, 72)  # 64x48 -> short 72
    dataset = FrameListDataset(
        out / "frame_list.txt",
        builder=SampleBuilder(crop_size=48),
        short_side=72,
        progress=False,
    )
    assert len(dataset) == 2 and {v.num_frames for v in dataset.videos} == {18, 20}
    assert all(v.fps == 12.0 for v in dataset.videos)
    sample = dataset[0]
    assert sample["frames"].shape == (5, 3, 48, 48) and int(sample["skipped"]) == 0
