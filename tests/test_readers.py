"""Readers: decord and PyAV agree bit-exactly on a lossless mp4, resize at decode, frame folders,
and every failure is a VideoReadError naming the file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import VideoFactory, WrittenVideo
from cyclecorr.data.readers import factory
from cyclecorr.data.readers.base import VideoReader, VideoReadError
from cyclecorr.data.readers.decord_backend import DecordReader
from cyclecorr.data.readers.factory import decord_available, open_video
from cyclecorr.data.readers.frame_folder import FrameFolderReader
from cyclecorr.data.readers.pyav_backend import PyAVReader
from cyclecorr.data.readers.torchcodec_backend import TorchCodecReader
from cyclecorr.data.transforms import resize_short_side
from helpers.videos import INDICES, bad_files

BACKENDS = [
    "pyav",
    pytest.param(
        "decord",
        marks=pytest.mark.skipif(not decord_available(), reason="decord has x86_64 wheels only"),
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lossless_frames_match_the_written_frames(
    backend: str, lossless_video: WrittenVideo
) -> None:
    reader = open_video(lossless_video.path, backend=backend)
    assert isinstance(reader, VideoReader)
    assert len(reader) == 40 and reader.fps == pytest.approx(24.0) and reader.size == (64, 48)
    frames = reader.get_frames(INDICES)
    assert frames.dtype == np.uint8 and frames.shape == (6, 48, 64, 3)
    assert np.array_equal(frames, lossless_video.frames[INDICES])
    reader.close()


@pytest.mark.skipif(not decord_available(), reason="decord has x86_64 wheels only")
def test_decord_and_pyav_are_identical_on_every_frame(lossless_video: WrittenVideo) -> None:
    every = list(range(40))
    decoded = open_video(lossless_video.path, "decord").get_frames(every)
    assert np.array_equal(decoded, open_video(lossless_video.path, "pyav").get_frames(every))


def test_pyav_decoding_from_the_start_matches_seeking(lossless_video: WrittenVideo) -> None:
    reader = PyAVReader(lossless_video.path)
    assert reader._info().pts_step > 0  # regular timestamps: the seeking path
    seeking = reader.get_frames([30, 33, 36])
    reader._index = reader._info()._replace(pts_step=0)  # force the decode-from-start path
    assert np.array_equal(reader.get_frames([30, 33, 36]), seeking)
    assert np.array_equal(seeking, lossless_video.frames[[30, 33, 36]])


def test_pyav_skipping_unwanted_non_reference_frames_is_bit_exact(
    tmp_path: Path, make_video: VideoFactory
) -> None:
    """A lossy x264 file has B-frames no frame refers to; a clip read skips decoding those it
    does not want and still returns exactly the frames of a full decode."""
    import av

    video = make_video(tmp_path / "lossy.mp4", num_frames=60, lossless=False)
    with av.open(str(video.path)) as container:
        full = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(video.path)) as container:
        container.streams.video[0].codec_context.skip_frame = "NONREF"
        references = sum(1 for _ in container.decode(video=0))
    assert len(full) == 60 and references < 50  # the file has skippable frames
    reader = PyAVReader(video.path)
    assert reader._info().pts_step > 0  # the seeking path, where frames are skipped
    for wanted in ([3, 7, 11, 15, 29, 33], [0, 1, 2], [58, 10, 59, 10], [31]):
        assert np.array_equal(reader.get_frames(wanted), np.stack([full[i] for i in wanted]))


def test_pyav_repeats_the_last_frame_for_an_announced_off_by_one(
    lossless_video: WrittenVideo,
) -> None:
    reader = PyAVReader(lossless_video.path)
    reader._index = reader._info()._replace(num_frames=41, pts_step=0)  # header says 41
    assert np.array_equal(reader.get_frames([40, 2]), lossless_video.frames[[39, 2]])
    reader._index = reader._info()._replace(num_frames=45)  # 5 missing: truncated
    with pytest.raises(VideoReadError, match="announces 45 frames but only 40 decode"):
        reader.get_frames([44])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("height,width,expected", [(48, 64, (43, 32)), (64, 48, (32, 43))])
def test_resize_at_decode_gives_the_short_side(
    backend: str,
    height: int,
    width: int,
    expected: tuple[int, int],
    tmp_path: Path,
    make_video: VideoFactory,
) -> None:
    video = make_video(tmp_path / "v.mp4", num_frames=4, height=height, width=width)
    reader = open_video(video.path, backend=backend, short_side=32)
    assert reader.size == expected
    frames = reader.get_frames([0, 3])
    assert frames.shape == (2, expected[1], expected[0], 3)
    reference = resize_short_side(video.frames[[0, 3]], 32)  # torch bilinear, antialiased
    assert np.abs(frames.astype(np.int16) - reference).mean() < 12  # same picture


@pytest.mark.skipif(not decord_available(), reason="decord has x86_64 wheels only")
def test_decord_reads_without_pyav(
    tmp_path: Path, make_video: VideoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decord alone (no PyAV installed) probes the size itself and decodes the same frames."""
    video = make_video(tmp_path / "v.mp4", num_frames=4, height=40, width=56)
    with_av = open_video(video.path, backend="decord", short_side=32)
    expected = with_av.get_frames([0, 3])
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError
    without_av = open_video(video.path, backend="decord", short_side=32)
    assert without_av.size == with_av.size == (45, 32)  # 56 x 32 / 40, rounded
    assert np.array_equal(without_av.get_frames([0, 3]), expected)


def write_frame_folder(folder: Path, frames: np.ndarray, suffix: str = ".png") -> None:
    folder.mkdir(parents=True)
    for t, image in enumerate(frames):
        Image.fromarray(image).save(folder / f"{t:05d}{suffix}")
    (folder / "notes.txt").write_text("not a frame")


def test_frame_folder_reader(tmp_path: Path, lossless_video: WrittenVideo) -> None:
    write_frame_folder(tmp_path / "clip", lossless_video.frames[:12])
    reader = open_video(tmp_path / "clip", fps=12.0)
    assert isinstance(reader, FrameFolderReader)
    assert len(reader) == 12 and reader.fps == 12.0 and reader.size == (64, 48)
    assert np.array_equal(reader.get_frames([11, 0, 0]), lossless_video.frames[[11, 0, 0]])
    small = open_video(tmp_path / "clip", fps=12.0, short_side=24)
    assert small.size == (32, 24) and small.get_frames([1]).shape == (1, 24, 32, 3)


def test_frame_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoReadError, match="empty.*holds no images"):
        len(FrameFolderReader(tmp_path / "empty", fps=10))
    with pytest.raises(VideoReadError, match="pass fps="):
        open_video(tmp_path / "empty")
    with pytest.raises(VideoReadError, match="missing.*does not exist"):
        FrameFolderReader(tmp_path / "missing", fps=10)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "00000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(VideoReadError, match="00000.jpg"):
        FrameFolderReader(tmp_path / "broken", fps=10).get_frames([0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["missing", "empty", "random", "truncated"])
def test_unreadable_files_raise_naming_the_file(
    backend: str, name: str, tmp_path: Path, lossless_video: WrittenVideo
) -> None:
    path = bad_files(tmp_path, lossless_video.path)[name]
    with pytest.raises(VideoReadError, match=f"{name}.mp4"):
        reader = open_video(path, backend=backend)
        reader.get_frames([0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("indices", [[40], [-1], []])
def test_out_of_range_indices_raise(
    backend: str, indices: list[int], lossless_video: WrittenVideo
) -> None:
    with pytest.raises(VideoReadError, match=r"square.mp4.*\[0, 40\)"):
        open_video(lossless_video.path, backend=backend).get_frames(indices)


def test_bad_arguments(lossless_video: WrittenVideo, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        open_video(lossless_video.path, backend="opencv")
    with pytest.raises(ValueError, match="short_side"):
        open_video(lossless_video.path, short_side=0)
    monkeypatch.setattr(factory, "decord_available", lambda: False)
    assert isinstance(open_video(lossless_video.path), PyAVReader)  # auto falls back to PyAV
    with pytest.raises(ValueError, match="decord is not installed"):
        open_video(lossless_video.path, backend="decord")


def test_torchcodec_backend_is_opt_in(
    lossless_video: WrittenVideo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torchcodec is an optional extra: asked for without it, a ValueError says how to install
    it; "auto" never picks it (decord first, then PyAV)."""
    monkeypatch.setattr(factory, "torchcodec_available", lambda: False)
    with pytest.raises(ValueError, match=r"torchcodec cannot be imported.*cyclecorr\[torchcodec\]"):
        open_video(lossless_video.path, backend="torchcodec")
    monkeypatch.setattr(factory, "torchcodec_available", lambda: True)
    assert isinstance(open_video(lossless_video.path, backend="torchcodec"), TorchCodecReader)
    expected = DecordReader if decord_available() else PyAVReader
    assert type(open_video(lossless_video.path)) is expected


@pytest.mark.data
@pytest.mark.parametrize("backend", BACKENDS)
def test_real_cinepak_avi(backend: str, shared_data: Path) -> None:
    source = shared_data / "videos" / "opencv_tree.avi"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    reader = open_video(source, backend=backend)
    assert len(reader) == 68 and reader.fps == pytest.approx(15.0, abs=1e-3)
    assert reader.size == (320, 240)
    frames = reader.get_frames([0, 30, 67])
    assert frames.shape == (3, 240, 320, 3) and frames.std() > 10  # real content
    assert not np.array_equal(frames[0], frames[2])  # leaves move
    pyav = open_video(source, backend="pyav").get_frames([0, 30, 67])
    assert np.array_equal(frames, pyav)  # decord and PyAV agree (variable-rate avi)
    small = open_video(source, backend=backend, short_side=120)
    assert small.get_frames([5]).shape == (1, 120, 160, 3)
