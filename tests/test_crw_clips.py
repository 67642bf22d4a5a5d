"""CRW clip sampling (data/walk_clips.py): VideoClips resampling, consecutive frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.datasets.video_utils import VideoClips

from cyclecorr.data.clips import ClipTooShortError
from cyclecorr.data.crw.clips import CRWClipSpec, resampled_frames
from cyclecorr.data.timecycle.clips import ClipSpec, sample_clip_indices


def torchvision_resampled(num_frames: int, fps: float, frame_rate: float) -> list[int]:
    """What CRW's Kinetics loader reads: ``VideoClips.compute_clips_for_video``'s indices."""
    total = int(math.floor(num_frames * frame_rate / fps))
    idxs = VideoClips._resample_video_idx(total, fps, frame_rate)
    return torch.arange(num_frames)[idxs].tolist()


@pytest.mark.parametrize(
    ("num_frames", "fps"),
    [(90, 24.0), (25, 24.0), (300, 29.97), (795, 10.0), (16, 8.0), (217, 26.8), (120, 30.0)],
)
def test_resampling_equals_torchvision_video_clips(num_frames: int, fps: float) -> None:
    assert resampled_frames(num_frames, fps, 8.0).tolist() == torchvision_resampled(
        num_frames, fps, 8.0
    )


def test_resampled_frames_hand_computed() -> None:
    assert resampled_frames(10, 24.0, 8.0).tolist() == [0, 3, 6, 9]  # integer step: every 3rd
    # step 3.75: floor(k * 3.75) for k < floor(40 * 8 / 30) = 10
    assert resampled_frames(40, 30.0, 8.0).tolist() == [0, 3, 7, 11, 15, 18, 22, 26, 30, 33]
    assert resampled_frames(5, 24.0, None).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="fps > 0"):
        resampled_frames(10, 0.0, 8.0)


def test_clips_are_consecutive_resampled_frames() -> None:
    spec = CRWClipSpec(clip_len=4, frame_rate=8.0)
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        clip = spec.frame_indices(90, 24.0, rng)  # 30 resampled frames: starts 0..26
        assert len(clip) == 4 and clip[0] % 3 == 0
        assert np.diff(clip).tolist() == [3, 3, 3]
        starts.add(clip[0] // 3)
    assert starts == set(range(27))  # uniform over every start, the last one included


def test_too_short_video_raises_clip_too_short() -> None:
    spec = CRWClipSpec(clip_len=4, frame_rate=8.0)
    assert spec.frame_indices(10, 24.0, np.random.default_rng(0)) == [0, 3, 6, 9]
    with pytest.raises(ClipTooShortError, match="fewer than clip_len=4"):
        spec.frame_indices(9, 24.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="clip_len >= 2"):
        CRWClipSpec(clip_len=1).frame_indices(90, 24.0, np.random.default_rng(0))


def test_timecycle_clip_spec_frame_indices_match_sample_clip_indices() -> None:
    """The dataset now asks ClipSpec.frame_indices: same frames, same rng use as before."""
    spec = ClipSpec()
    for seed in range(5):
        clip = sample_clip_indices(200, 24.0, spec, np.random.default_rng(seed))
        found = spec.frame_indices(200, 24.0, np.random.default_rng(seed))
        assert found == [*clip.past.tolist(), clip.target, clip.motion]
