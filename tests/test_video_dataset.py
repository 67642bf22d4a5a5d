"""Real-video clip datasets: the draw contract, exact frames, bad videos skipped and counted,
trees, frame lists, and the real SampleBuilder end to end."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from conftest import WrittenVideo
from cyclecorr.data.manifest import VideoInfo
from cyclecorr.data.timecycle.clips import ClipSpec, sample_clip_indices
from cyclecorr.data.timecycle.sample_builder import SampleBuilder
from cyclecorr.data.video_dataset import FrameListDataset, VideoClipDataset, VideoTreeDataset

CLIP = ClipSpec(clip_len=4, frame_gap=2, pred_distance=9, target_fps=12.0)


class RecordingBuilder:
    """Stand-in builder: returns the raw frames and one number from the sample's rng."""

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> dict[str, Tensor]:
        return {
            "raw": torch.from_numpy(frames.copy()),
            "rand": torch.tensor(rng.random(), dtype=torch.float64),
        }


def info(path: Path, num_frames: int = 40, fps: float = 24.0) -> VideoInfo:
    return VideoInfo(str(path), num_frames, fps, 64, 48)


def bad_copies(folder: Path, good: Path) -> list[Path]:
    """Random bytes, a zero-length file and a truncated mp4, all named .mp4."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(2).bytes(4000))
    (folder / "zero.mp4").write_bytes(b"")
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return [folder / "corrupt.mp4", folder / "zero.mp4", folder / "truncated.mp4"]


def test_item_is_the_clip_of_video_draw_mod_n(lossless_video: WrittenVideo) -> None:
    videos = [info(lossless_video.path)] * 3
    dataset = VideoClipDataset(videos, CLIP, RecordingBuilder(), short_side=None, seed=7)
    assert len(dataset) == 3
    for draw in (0, 2, 3, 8):
        item = dataset[draw]
        rng = np.random.default_rng([7, draw])
        clip = sample_clip_indices(40, 24.0, CLIP, rng)
        wanted = [*clip.past.tolist(), clip.target, clip.motion]
        assert np.array_equal(item["raw"].numpy(), lossless_video.frames[wanted])
        assert item["rand"].item() == rng.random()  # the builder continues the same stream
        assert item["index"].item() == draw and item["index"].dtype == torch.int64
        assert item["skipped"].item() == 0


def test_short_side_resizes_frames(lossless_video: WrittenVideo) -> None:
    dataset = VideoClipDataset([info(lossless_video.path)], CLIP, RecordingBuilder(), 24)
    assert dataset[0]["raw"].shape == (6, 24, 32, 3)


def test_bad_videos_are_skipped_warned_once_and_counted(
    tmp_path: Path, lossless_video: WrittenVideo
) -> None:
    bad = bad_copies(tmp_path, lossless_video.path)
    videos = [info(lossless_video.path), *map(info, bad)]  # a stale manifest: all look fine
    dataset = VideoClipDataset(videos, CLIP, RecordingBuilder(), short_side=None)
    with pytest.warns(RuntimeWarning) as record:
        items = [dataset[draw] for draw in range(8)]
    messages = [str(w.message) for w in record]
    for path in bad:  # one warning per bad file, naming it
        assert sum(str(path) in m for m in messages) == 1
    assert len(messages) == 3
    for draw, item in enumerate(items):
        assert item["index"].item() == draw - draw % 4  # the good video (id 0) of this epoch
        assert (item["skipped"].item() > 0) == (draw % 4 != 0)
    assert dataset.bad.keys() == {1, 2, 3}


def test_skipping_does_not_depend_on_what_is_known(
    tmp_path: Path, lossless_video: WrittenVideo
) -> None:
    bad = bad_copies(tmp_path, lossless_video.path)
    videos = [info(lossless_video.path), *map(info, bad), info(lossless_video.path)]

    def serve(order: list[int]) -> dict[int, tuple[int, int, float]]:
        dataset = VideoClipDataset(videos, CLIP, RecordingBuilder(), short_side=None, seed=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            items = {d: dataset[d] for d in order}
        return {d: (int(i["index"]), int(i["skipped"]), float(i["rand"])) for d, i in items.items()}

    assert serve(list(range(10))) == serve(list(reversed(range(10))))  # like separate workers


def test_all_bad_or_too_many_failures_is_a_clear_error(
    tmp_path: Path, lossless_video: WrittenVideo
) -> None:
    bad = bad_copies(tmp_path, lossless_video.path)
    dataset = VideoClipDataset([info(p) for p in bad], CLIP, RecordingBuilder(), None)
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="unreadable videos in"):
        dataset[0]
    strict = VideoClipDataset(
        [info(bad[0]), info(lossless_video.path)],
        CLIP,
        RecordingBuilder(),
        None,
        max_consecutive_failures=0,
    )
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="corrupt.mp4"):
        strict[0]


def test_too_short_videos_are_left_out(lossless_video: WrittenVideo) -> None:
    with pytest.warns(RuntimeWarning, match="fewer than 2 frames"):
        dataset = VideoClipDataset(
            [info(lossless_video.path, num_frames=1), info(lossless_video.path)],
            CLIP,
            RecordingBuilder(),
            None,
        )
    assert len(dataset) == 1
    with pytest.raises(ValueError, match="none of the 1 given videos"):
        VideoClipDataset([info(lossless_video.path, num_frames=1)], CLIP, RecordingBuilder())


def test_short_side_below_the_crop_is_rejected(lossless_video: WrittenVideo) -> None:
    with pytest.raises(ValueError, match="short_side \\(32\\) must be >= the builder's crop"):
        VideoClipDataset([info(lossless_video.path)], CLIP, SampleBuilder(crop_size=48), 32)


def test_tree_dataset_with_bad_files_and_the_real_builder(
    tmp_path: Path, lossless_video: WrittenVideo
) -> None:
    root = tmp_path / "kinetics" / "train"
    for name in ("class_a/v1.mp4", "class_b/v2.mp4"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lossless_video.path, root / name)
    bad = bad_copies(root / "class_c", lossless_video.path)
    kwargs = dict(clip=CLIP, builder=SampleBuilder(crop_size=48), short_side=48, progress=False)
    with pytest.warns(RuntimeWarning, match="3 of 5 videos") as record:
        dataset = VideoTreeDataset(root, tmp_path / "cache", **kwargs)
    assert all(path.name in str(record[0].message) for path in bad)
    assert len(dataset) == 2 and len(list((tmp_path / "cache").glob("manifest-tree-*.json"))) == 1
    item = dataset[3]
    assert item["frames"].shape == (5, 3, 48, 48) and item["patch"].shape == (3, 16, 16)
    assert item["theta"].shape == (2, 3) and item["index"].item() == 3
    assert torch.isfinite(item["frames"]).all()
    with pytest.warns(RuntimeWarning):  # cached: same videos, same clips
        again = VideoTreeDataset([root], tmp_path / "cache", **kwargs)
    assert torch.equal(again[3]["frames"], item["frames"])


def test_tree_errors(tmp_path: Path, lossless_video: WrittenVideo) -> None:
    with pytest.raises(FileNotFoundError, match="nope does not exist"):
        VideoTreeDataset(tmp_path / "nope", None, CLIP, RecordingBuilder(), progress=False)
    bad_copies(tmp_path / "bad", lossless_video.path)
    with pytest.raises(RuntimeError, match="none of the 3 videos"):
        VideoTreeDataset(tmp_path / "bad", None, CLIP, RecordingBuilder(), progress=False)


def test_frame_list_dataset(tmp_path: Path, lossless_video: WrittenVideo) -> None:
    folder = tmp_path / "frames" / "v_001"
    folder.mkdir(parents=True)
    for t, image in enumerate(lossless_video.frames[:30]):
        Image.fromarray(image).save(folder / f"{t:06d}.png")
    list_file = tmp_path / "frames.txt"
    list_file.write_text(f"frames/v_001 30\n{lossless_video.path} 40\n")
    dataset = FrameListDataset(
        list_file, tmp_path / "cache", CLIP, RecordingBuilder(), short_side=None, progress=False
    )
    assert [v.fps for v in dataset.videos] == [12.0, 24.0]  # folder at the default 12 fps
    rng = np.random.default_rng([0, 0])
    clip = sample_clip_indices(30, 12.0, CLIP, rng)  # at 12 fps offsets are release frames
    assert clip.target - clip.past[0] == 15
    wanted = [*clip.past.tolist(), clip.target, clip.motion]
    assert np.array_equal(dataset[0]["raw"].numpy(), lossless_video.frames[wanted])
    assert dataset[1]["raw"].shape == (6, 48, 64, 3)


@pytest.mark.data
def test_real_videos_tree(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "videos"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    dataset = VideoTreeDataset(
        root, tmp_path, CLIP, SampleBuilder(crop_size=48), short_side=64, progress=False
    )
    assert len(dataset) == 16
    item = dataset[dataset.videos.index(next(v for v in dataset.videos if "tree" in v.path))]
    assert item["frames"].shape == (5, 3, 48, 48) and item["skipped"].item() == 0
    assert item["frames"].std() > 0.1  # real content, normalised


def test_walk_clips_read_consecutive_frames_at_the_frame_rate(
    lossless_video: WrittenVideo, tmp_path: Path
) -> None:
    """CRW clips through the same dataset: 4 consecutive frames of the 8 fps resampling."""
    from cyclecorr.data.crw.clips import CRWClipSpec
    from cyclecorr.data.crw.sample_builder import CRWSampleBuilder

    spec = CRWClipSpec(clip_len=4, frame_rate=8.0)
    dataset = VideoClipDataset(
        [info(lossless_video.path)], spec, RecordingBuilder(), short_side=None, seed=3
    )
    for draw in (0, 1, 5):
        item = dataset[draw]
        wanted = spec.frame_indices(40, 24.0, np.random.default_rng([3, draw]))
        assert np.diff(wanted).tolist() == [3, 3, 3]  # 24 fps -> 8 fps
        assert np.array_equal(item["raw"].numpy(), lossless_video.frames[wanted])
    shutil.copy(lossless_video.path, tmp_path / "square.mp4")
    builder = CRWSampleBuilder(image_size=32, patch_size=16, patch_stride=8)
    tree = VideoTreeDataset(tmp_path, clip=spec, builder=builder, short_side=48, progress=False)
    sample = tree[0]
    assert sample["patches"].shape == (4, 9, 3, 16, 16) and sample["skipped"].item() == 0
