"""Shared fixtures: a small lossless video with known frames, a video factory, the real data.

Fixtures:
    ``make_video(path, num_frames=24, height=48, width=64, fps=24.0, lossless=True, seed=0)``:
        writes a textured square moving 2 px right and 1 px down per frame over a noise
        background and returns ``WrittenVideo(path, frames (T, H, W, 3) uint8, fps)``.
    ``lossless_video``: one such video (40 frames, 48x64, 24 fps), written once per session.
    ``shared_data``: the real-data folder (``CYCLECORR_DATA``, default ``../shared/data``);
        skips the test when it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


class WrittenVideo(NamedTuple):
    """A video written by a fixture and the exact frames it holds."""

    path: Path
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    fps: float


def moving_square_frames(
    num_frames: int = 24, height: int = 48, width: int = 64, seed: int = 0
) -> np.ndarray:
    """``(T, H, W, 3)`` uint8: a 16x16 textured square at ``(2 + 2t, 4 + t)`` over noise."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 128, (height, width, 3), dtype=np.uint8)
    square = rng.integers(128, 256, (16, 16, 3), dtype=np.uint8)
    frames = np.repeat(background[None], num_frames, axis=0)  # (T, H, W, 3)
    for t in range(num_frames):
        x, y = (2 + 2 * t) % (width - 16), (4 + t) % (height - 16)
        frames[t, y : y + 16, x : x + 16] = square
    return frames


VideoFactory = Callable[..., WrittenVideo]


@pytest.fixture(scope="session")
def make_video() -> VideoFactory:
    """Factory writing a moving-square video; see the module docstring."""
    from cyclecorr.data.video_writer import write_video

    def make(
        path: Path,
        num_frames: int = 24,
        height: int = 48,
        width: int = 64,
        fps: float = 24.0,
        lossless: bool = True,
        seed: int = 0,
    ) -> WrittenVideo:
        frames = moving_square_frames(num_frames, height, width, seed)
        write_video(frames, path, fps=fps, lossless=lossless)
        return WrittenVideo(Path(path), frames, fps)

    return make


@pytest.fixture(scope="session")
def lossless_video(
    tmp_path_factory: pytest.TempPathFactory, make_video: VideoFactory
) -> WrittenVideo:
    """A 40-frame 48x64 lossless mp4 at 24 fps (read-only: copy it before changing it)."""
    return make_video(tmp_path_factory.mktemp("video") / "square.mp4", num_frames=40)


@pytest.fixture
def shared_data() -> Path:
    """The real-data folder; skips when it is missing."""
    root = Path(os.environ.get("CYCLECORR_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"real data not found at {root}; set CYCLECORR_DATA to ../shared/data")
    return root


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Many tiny ops: one thread avoids intra-op barriers stalling on a busy shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def _few_torch_threads() -> None:
    """Tests share a small machine: keep torch to 2 threads."""
    torch.set_num_threads(2)
