"""Which frames of a video make one training clip (METHOD.md section 2, "Clip").

A clip is ``clip_len`` past frames spaced ``frame_gap`` apart, then a target frame
``pred_distance`` after the last past frame, plus a *motion* frame shortly after the target
(used only to choose the patch). Offsets from the clip start, in frames at ``target_fps``::

    past_i = i * frame_gap                                  (i = 0 .. clip_len - 1)
    target = (clip_len - 1) * frame_gap + pred_distance     (release: 0, 2, 4, 6 -> 15)
    motion = target + round(target_fps / 3)                 (about 1/3 s later; default)
    motion = target + motion_offset                         (when given; release: 2)

A video at ``fps`` scales every offset by ``fps / target_fps`` so that every video spans the same
time (``target_fps=None`` keeps frame units). Offsets are rounded half-up to integer frames after
scaling. A video too short for the span gets every offset shrunk by one factor (a shorter,
fractional gap) so the clip spans the whole video; fewer than 2 frames raise
``ClipTooShortError``.

Datasets of real video ask any clip geometry for ``frame_indices(num_frames, fps, rng)`` (the
``ClipSampler`` protocol of ``cyclecorr.data.clips``): ``ClipSpec`` answers ``[*past, target,
motion]``; CRW's consecutive clips are ``cyclecorr.data.crw.clips.CRWClipSpec``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cyclecorr.data.clips import ClipTooShortError

_MOTION_FRAMES_WITHOUT_FPS = 4  # motion-frame delay when target_fps is None (1/3 s at 12 fps)


class ClipSpec(NamedTuple):
    """Clip geometry, in frames at ``target_fps`` (release values as defaults).

    Attributes:
        clip_len: number of past frames k.
        frame_gap: spacing between consecutive past frames.
        pred_distance: frames from the last past frame to the target.
        target_fps: frame rate the gaps are defined at; ``None`` uses a video's own frames.
        motion_offset: frames (at ``target_fps``) from the target to the motion frame; ``None``
            keeps ``round(target_fps / 3)`` (4 frames without a ``target_fps``). The release
            uses the frame ``frame_gap`` = 2 frames after the target.
    """

    clip_len: int = 4
    frame_gap: float = 2
    pred_distance: float = 9
    target_fps: float | None = 12.0
    motion_offset: float | None = None

    @property
    def rate(self) -> float | None:
        """The frame rate offsets are defined at (``target_fps``)."""
        return self.target_fps

    def frame_indices(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[int]:
        """The frames a TimeCycle sample reads: ``[*past, target, motion]`` (``clip_len + 2``).

        Draws exactly as ``sample_clip_indices`` (same ``rng`` use). Raises ClipTooShortError.
        """
        clip = sample_clip_indices(num_frames, fps, self, rng)
        return [*clip.past.tolist(), clip.target, clip.motion]


class ClipIndices(NamedTuple):
    """Frame indices of one clip (0-based, into the video).

    Attributes:
        past: ``(clip_len,)`` int64, oldest first, non-decreasing, all ``< target``.
        target: the target frame t.
        motion: a frame near the target (after it when possible), ``!= target``.
    """

    past: np.ndarray
    target: int
    motion: int


def _check_spec(spec: ClipSpec, fps: float) -> None:
    """Raise ValueError when the spec or the frame rate cannot describe a clip."""
    if spec.clip_len < 1 or spec.frame_gap < 0 or spec.pred_distance <= 0:
        raise ValueError(
            f"{__name__}: expected clip_len >= 1, frame_gap >= 0, pred_distance > 0, found "
            f"{spec}; fix the clip config."
        )
    if spec.motion_offset is not None and not spec.motion_offset > 0:
        raise ValueError(
            f"{__name__}: expected motion_offset > 0 or None, found {spec.motion_offset}; "
            "fix data.clip.motion_offset."
        )
    if not fps > 0 or (spec.target_fps is not None and not spec.target_fps > 0):
        raise ValueError(
            f"{__name__}: expected fps > 0 and target_fps > 0 or None, found fps={fps}, "
            f"target_fps={spec.target_fps}; check the video's metadata or the clip config."
        )


def _round_half_up(values: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves up (np.round rounds halves to even)."""
    return np.floor(values + 0.5).astype(np.int64)


def clip_offsets(num_frames: int, fps: float, spec: ClipSpec) -> tuple[np.ndarray, float]:
    """Fractional frame offsets of the past frames and the target, and of the motion delay.

    Args:
        num_frames: frames in the video (>= 2).
        fps: the video's frame rate.
        spec: clip geometry.

    Returns:
        ``(offsets, motion_delay)``: offsets ``(clip_len + 1,)`` float64 from the clip start
        (past frames then target), shrunk so the target offset is at most ``num_frames - 1``
        after rounding; ``motion_delay`` the motion frame's distance after the target (frames).
    """
    _check_spec(spec, fps)
    scale = 1.0 if spec.target_fps is None else fps / spec.target_fps
    steps = np.arange(spec.clip_len + 1, dtype=np.float64) * spec.frame_gap
    steps[-1] = (spec.clip_len - 1) * spec.frame_gap + spec.pred_distance
    offsets = steps * scale  # (clip_len + 1,)
    if _round_half_up(offsets[-1:])[0] > num_frames - 1:
        offsets = offsets * ((num_frames - 1) / offsets[-1])  # fractional gap: spans the video
    if spec.motion_offset is not None:
        delay = spec.motion_offset * scale
    elif spec.target_fps is None:
        delay = float(_MOTION_FRAMES_WITHOUT_FPS)
    else:
        delay = max(1.0, round(spec.target_fps / 3)) * scale
    return offsets, delay


def clip_indices_at(start: int, num_frames: int, fps: float, spec: ClipSpec) -> ClipIndices:
    """The clip starting at frame ``start`` (deterministic; see ``sample_clip_indices``).

    Raises:
        ClipTooShortError: ``num_frames < 2``.
        ValueError: ``start`` leaves no room for the clip's span.
    """
    if num_frames < 2:
        raise ClipTooShortError(
            f"{__name__}: a clip needs a video of at least 2 frames, found {num_frames}; "
            "skip this video."
        )
    offsets, delay = clip_offsets(num_frames, fps, spec)
    rounded = _round_half_up(offsets)  # (clip_len + 1,) int64
    if not 0 <= start <= num_frames - 1 - rounded[-1]:
        raise ValueError(
            f"{__name__}: start must be in [0, {num_frames - 1 - rounded[-1]}] for a "
            f"{num_frames}-frame video, found {start}."
        )
    target = int(start + rounded[-1])
    past = np.minimum(start + rounded[:-1], target - 1).astype(np.int64)  # strictly before t
    step = max(1, int(_round_half_up(np.array([delay]))[0]))
    motion = min(target + step, num_frames - 1)
    if motion == target:  # the target is the last frame: look back instead
        motion = max(target - step, 0)
    return ClipIndices(past=past, target=target, motion=int(motion))


def sample_clip_indices(
    num_frames: int, fps: float, spec: ClipSpec, rng: np.random.Generator
) -> ClipIndices:
    """Draw one clip uniformly over its valid start positions.

    Args:
        num_frames: frames in the video.
        fps: the video's frame rate (frames per second).
        spec: clip geometry (gaps defined at ``spec.target_fps``).
        rng: source of the start position.

    Returns:
        ``ClipIndices``; e.g. at 12 fps with the default spec and start s: past
        ``[s, s+2, s+4, s+6]``, target ``s+15``, motion ``s+19``.

    Raises:
        ClipTooShortError: fewer than 2 frames (callers skip the video).
    """
    if num_frames < 2:
        raise ClipTooShortError(
            f"{__name__}: a clip needs a video of at least 2 frames, found {num_frames}; "
            "skip this video."
        )
    offsets, _ = clip_offsets(num_frames, fps, spec)
    last_start = num_frames - 1 - int(_round_half_up(offsets[-1:])[0])
    start = int(rng.integers(0, last_start + 1))
    return clip_indices_at(start, num_frames, fps, spec)
