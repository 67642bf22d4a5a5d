"""The torchcodec reader: PyAV's frames bit-exactly, the shared short-side size, exact indexing on
B-frames and variable frame rates, and every failure a VideoReadError naming the file.

torchcodec is an optional extra (``cyclecorr[torchcodec]``): without it this module skips; the
factory's error for a missing torchcodec is tested in ``test_readers.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import VideoFactory, WrittenVideo
from cyclecorr.data.readers.base import VideoReader, VideoReadError
from cyclecorr.data.readers.factory import decord_available, open_video
from cyclecorr.data.readers.pyav_backend import PyAVReader
from cyclecorr.data.readers.torchcodec_backend import TorchCodecReader
from cyclecorr.data.transforms import resize_short_side
from helpers.videos import INDICES, bad_files

pytest.importorskip(
    "torchcodec", reason="torchcodec is optional: pip install cyclecorr[torchcodec]"
)


def test_lossless_frames_equal_pyav_frames(lossless_video: WrittenVideo) -> None:
    reader = open_video(lossless_video.path, backend="torchcodec")
    assert isinstance(reader, TorchCodecReader)
    assert reader._decoder is None  # lazy: nothing opened before first use
    assert isinstance(reader, VideoReader)  # (Python 3.11 reads the properties: opens it)
    pyav = PyAVReader(lossless_video.path)
    assert len(reader) == len(pyav) == 40
    assert reader.fps == pytest.approx(pyav.fps) and reader.fps == pytest.approx(24.0)
    assert reader.size == pyav.size == (64, 48)
    frames = reader.get_frames(INDICES)  # unordered, repeated, first and last
    assert frames.dtype == np.uint8 and frames.shape == (6, 48, 64, 3)
    assert frames.flags.c_contiguous
    assert np.array_equal(frames, pyav.get_frames(INDICES))
    assert np.array_equal(frames, lossless_video.frames[INDICES])
    reader.close()  # reopens on next use
    every = list(range(40))
    assert np.array_equal(reader.get_frames(every), lossless_video.frames)


def test_sparse_reads_with_b_frames_equal_a_full_decode(
    tmp_path: Path, make_video: VideoFactory
) -> None:
    """A lossy x264 file (B-frames, one key frame): exact-mode seeks return the frames of a
    full decode, as PyAV's reader does."""
    import av

    video = make_video(tmp_path / "lossy.mp4", num_frames=60, lossless=False)
    with av.open(str(video.path)) as container:
        full = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    reader = TorchCodecReader(video.path)
    assert len(reader) == 60
    for wanted in ([3, 7, 11, 15, 29, 33], [58, 10, 59, 10], [31], [0, 1, 2]):
        assert np.array_equal(reader.get_frames(wanted), full[wanted])


@pytest.mark.parametrize("height,width,expected", [(48, 64, (43, 32)), (64, 48, (32, 43))])
def test_resize_at_decode_gives_decords_size(
    height: int, width: int, expected: tuple[int, int], tmp_path: Path, make_video: VideoFactory
) -> None:
    video = make_video(tmp_path / "v.mp4", num_frames=4, height=height, width=width)
    reader = open_video(video.path, backend="torchcodec", short_side=32)
    assert reader.size == expected == PyAVReader(video.path, short_side=32).size
    if decord_available():
        assert reader.size == open_video(video.path, backend="decord", short_side=32).size
    frames = reader.get_frames([0, 3])
    assert frames.shape == (2, expected[1], expected[0], 3)
    reference = resize_short_side(video.frames[[0, 3]], 32)  # torch bilinear, antialiased
    assert np.abs(frames.astype(np.int16) - reference).mean() < 2  # torchcodec's Resize is too


@pytest.mark.parametrize("indices", [[40], [-1], []])
def test_out_of_range_indices_raise_naming_the_file(
    indices: list[int], lossless_video: WrittenVideo
) -> None:
    with pytest.raises(VideoReadError, match=r"square.mp4.*\[0, 40\)"):
        TorchCodecReader(lossless_video.path).get_frames(indices)


@pytest.mark.parametrize("name", ["missing", "empty", "random", "truncated"])
def test_unreadable_files_raise_naming_the_file(
    name: str, tmp_path: Path, lossless_video: WrittenVideo
) -> None:
    path = bad_files(tmp_path, lossless_video.path)[name]
    with pytest.raises(VideoReadError, match=f"{name}.mp4"):
        TorchCodecReader(path).get_frames([0])


@pytest.mark.data
def test_real_variable_rate_avi_matches_pyav(shared_data: Path) -> None:
    """Cinepak with irregular timestamps: exact mode finds its 68 frames (approximate mode would
    announce 444) and the header's 15 fps (exact mode's content average is 2.3)."""
    source = shared_data / "videos" / "opencv_tree.avi"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    reader = TorchCodecReader(source)
    assert len(reader) == 68 and reader.fps == pytest.approx(15.0, abs=1e-3)
    assert reader.size == (320, 240)
    wanted = [0, 30, 67]
    assert np.array_equal(reader.get_frames(wanted), PyAVReader(source).get_frames(wanted))
