"""write_video: lossless H.264 RGB round-trips bit-exactly; lossy pads odd sizes; bad input."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from conftest import moving_square_frames
from cyclecorr.data.readers.factory import decord_available
from cyclecorr.data.video_writer import write_video


def decode_all_pyav(path: Path) -> tuple[np.ndarray, float]:
    """Every frame with plain PyAV (independent of cyclecorr's readers), and the rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)


def test_lossless_round_trip_is_bit_exact_with_pyav(tmp_path: Path) -> None:
    frames = moving_square_frames(12, 48, 64)
    path = write_video(frames, tmp_path / "sub" / "a.mp4", fps=24.0)
    decoded, fps = decode_all_pyav(path)
    assert decoded.shape == frames.shape
    assert np.array_equal(decoded, frames)
    assert fps == 24.0


@pytest.mark.skipif(not decord_available(), reason="decord has x86_64 wheels only")
def test_lossless_round_trip_is_bit_exact_with_decord(tmp_path: Path) -> None:
    import decord

    frames = moving_square_frames(12, 48, 64, seed=3)
    path = write_video(frames, tmp_path / "a.mp4", fps=10.0)
    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    assert len(reader) == 12 and reader.get_avg_fps() == pytest.approx(10.0)
    assert np.array_equal(reader.get_batch(list(range(12))).asnumpy(), frames)


def smooth_frames(num_frames: int, height: int, width: int) -> np.ndarray:
    """A colour gradient with a flat square moving 2 px per frame (easy for 4:2:0 H.264)."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([4 * x, 5 * y, 2 * (x + y)], axis=-1).clip(0, 255).astype(np.uint8)
    frames = np.repeat(base[None], num_frames, axis=0)  # (T, H, W, 3)
    for t in range(num_frames):
        frames[t, 8:20, 2 * t + 4 : 2 * t + 16] = (250, 240, 30)
    return frames


def test_lossy_pads_odd_sizes_to_even_and_stays_close(tmp_path: Path) -> None:
    frames = smooth_frames(6, 33, 47)
    path = write_video(frames, tmp_path / "odd.mp4", fps=29.97, lossless=False)
    decoded, fps = decode_all_pyav(path)
    assert decoded.shape == (6, 34, 48, 3)
    assert fps == pytest.approx(29.97, abs=1e-3)
    error = np.abs(decoded[:, :33, :47].astype(np.int16) - frames).mean()
    assert 0 < error < 4  # lossy, but the same picture


def test_lossy_keeps_even_sizes(tmp_path: Path) -> None:
    frames = moving_square_frames(3, 32, 48)
    decoded, _ = decode_all_pyav(write_video(frames, tmp_path / "even.mp4", lossless=False))
    assert decoded.shape == frames.shape


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((2, 8, 8, 3), np.float32),
        np.zeros((8, 8, 3), np.uint8),
        np.zeros((2, 8, 8, 4), np.uint8),
        np.zeros((0, 8, 8, 3), np.uint8),
    ],
)
def test_bad_frames_are_rejected_naming_the_file(frames: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad.mp4"):
        write_video(frames, tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()


def test_bad_fps_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps must be > 0"):
        write_video(np.zeros((1, 8, 8, 3), np.uint8), tmp_path / "a.mp4", fps=0)
