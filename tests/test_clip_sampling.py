"""Golden tests for clip frame-index sampling (METHOD.md section 2)."""

import numpy as np
import pytest

from cyclecorr.data.timecycle.clips import (
    ClipIndices,
    ClipSpec,
    ClipTooShortError,
    clip_indices_at,
    sample_clip_indices,
)


@pytest.mark.parametrize(
    ("fps", "past", "target", "motion"),
    [
        (12.0, [0, 2, 4, 6], 15, 19),  # release: s+1, s+3, s+5, s+7 -> s+16 (our s = theirs + 1)
        (24.0, [0, 4, 8, 12], 30, 38),
        (30.0, [0, 5, 10, 15], 38, 48),  # 37.5 rounds half up
        (29.97, [0, 5, 10, 15], 37, 47),  # 4.995, 9.99, 14.985, 37.4625
        (60.0, [0, 10, 20, 30], 75, 95),
    ],
)
def test_exact_indices_per_fps(fps: float, past: list[int], target: int, motion: int) -> None:
    start = 3
    clip = clip_indices_at(start, 200, fps, ClipSpec())
    assert clip.past.dtype == np.int64
    assert clip.past.tolist() == [start + p for p in past]
    assert clip.target == start + target
    assert clip.motion == start + motion


def test_same_time_span_for_every_fps() -> None:
    for fps in (12.0, 24.0, 30.0, 60.0):
        clip = clip_indices_at(0, 500, fps, ClipSpec())
        assert abs(clip.target / fps - 1.25) < 0.5 / fps  # 15 frames at 12 fps


def test_target_fps_none_uses_frame_units() -> None:
    clip = clip_indices_at(1, 100, 60.0, ClipSpec(target_fps=None))
    assert clip.past.tolist() == [1, 3, 5, 7]
    assert clip.target == 16
    assert clip.motion == 20


@pytest.mark.parametrize(("fps", "offset"), [(12.0, 2), (24.0, 4), (30.0, 5)])
def test_motion_offset_in_frames_at_target_fps(fps: float, offset: int) -> None:
    """The release's motion frame: frame_gap = 2 frames (at 12 fps) after the target."""
    spec = ClipSpec(motion_offset=2)
    default = clip_indices_at(3, 200, fps, ClipSpec())
    clip = clip_indices_at(3, 200, fps, spec)
    assert clip.target == default.target and clip.past.tolist() == default.past.tolist()
    assert clip.motion == clip.target + offset  # 2 * fps / 12, rounded half up
    assert clip_indices_at(1, 100, 60.0, ClipSpec(target_fps=None, motion_offset=2)).motion == 18
    with pytest.raises(ValueError, match="motion_offset > 0"):
        clip_indices_at(0, 100, 12.0, ClipSpec(motion_offset=0))


def test_short_video_gets_fractional_gap_spanning_it() -> None:
    # span 15 > 10 - 1: scale by 9/15 -> offsets 0, 1.2, 2.4, 3.6 -> 0, 1, 2, 4; target 9
    clip = clip_indices_at(0, 10, 12.0, ClipSpec())
    assert clip.past.tolist() == [0, 1, 2, 4]
    assert clip.target == 9
    assert clip.motion == 5  # target is the last frame: 4 frames earlier
    rng = np.random.default_rng(0)
    for _ in range(5):  # only one valid start
        assert sample_clip_indices(10, 12.0, ClipSpec(), rng).target == 9


def test_two_frame_video() -> None:
    clip = sample_clip_indices(2, 30.0, ClipSpec(), np.random.default_rng(0))
    assert clip.past.tolist() == [0, 0, 0, 0]
    assert clip.target == 1
    assert clip.motion == 0


def test_one_frame_video_raises_naming_count() -> None:
    with pytest.raises(ClipTooShortError, match="found 1"):
        sample_clip_indices(1, 30.0, ClipSpec(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="found 0"):
        sample_clip_indices(0, 30.0, ClipSpec(), np.random.default_rng(0))


@pytest.mark.parametrize("num_frames", [2, 3, 4, 5, 7, 11, 16, 17, 40])
def test_invariants_for_any_length(num_frames: int) -> None:
    rng = np.random.default_rng(num_frames)
    for fps in (12.0, 29.97, 60.0):
        clip = sample_clip_indices(num_frames, fps, ClipSpec(), rng)
        assert isinstance(clip, ClipIndices)
        assert clip.past.shape == (4,)
        assert np.all(np.diff(clip.past) >= 0)
        assert clip.past[-1] < clip.target <= num_frames - 1
        assert clip.past[0] >= 0
        assert 0 <= clip.motion < num_frames and clip.motion != clip.target


def test_start_is_uniform_over_valid_positions() -> None:
    rng = np.random.default_rng(0)
    starts = [sample_clip_indices(20, 12.0, ClipSpec(), rng).past[0] for _ in range(600)]
    counts = np.bincount(starts)
    assert counts.shape == (5,)  # starts 0..4 (target = start + 15 <= 19)
    assert counts.min() > 80  # ~120 each


def test_deterministic_given_rng() -> None:
    a = sample_clip_indices(300, 30.0, ClipSpec(), np.random.default_rng([7, 3]))
    b = sample_clip_indices(300, 30.0, ClipSpec(), np.random.default_rng([7, 3]))
    assert a.past.tolist() == b.past.tolist() and a.target == b.target


def test_bad_start_and_bad_spec_raise() -> None:
    with pytest.raises(ValueError, match="start must be in"):
        clip_indices_at(10, 20, 12.0, ClipSpec())
    with pytest.raises(ValueError, match="pred_distance"):
        clip_indices_at(0, 20, 12.0, ClipSpec(pred_distance=0))
    with pytest.raises(ValueError, match="fps"):
        clip_indices_at(0, 20, 0.0, ClipSpec())
