"""Which frames make one contrastive-random-walk clip: ``clip_len`` consecutive frames at a rate.

CRW (ajabri/videowalk ``train.py``) reads Kinetics through torchvision's ``VideoClips`` with
``frames_per_clip=clip_len``, ``step_between_clips=1`` and ``frame_rate=frame_skip`` (8 fps by
default; the README command keeps it). ``VideoClips`` first resamples a video of ``n`` frames at
``fps`` to ``frame_rate``::

    step = fps / frame_rate
    integer step:  resampled = [0, step, 2 step, ...] < n          (ceil(n / step) frames)
    otherwise:     resampled[k] = floor(k * step), k < floor(n * frame_rate / fps)   (float32)

and every run of ``clip_len`` consecutive resampled frames is a clip; ``RandomClipSampler`` draws
clips uniformly within a video. ``frame_rate=None`` keeps the video's own frames. A video with
fewer than ``clip_len`` resampled frames has no clip (``ClipTooShortError``; the dataset skips it,
as ``VideoClips`` does).

Deviation: CRW's sampler takes up to ``clips_per_video`` (5) clips of every video per epoch; the
project's sampler takes one clip per video per pass (``ClipDataModule.min_clips_per_epoch`` sets
the passes), so every video is seen equally often whatever its length.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cyclecorr.data.clips import ClipTooShortError


def resampled_frames(num_frames: int, fps: float, frame_rate: float | None) -> np.ndarray:
    """Frame indices of a video resampled to ``frame_rate`` (torchvision ``VideoClips`` rule).

    Args:
        num_frames: frames in the video.
        fps: the video's frame rate (> 0).
        frame_rate: the rate to resample to (> 0), or ``None`` for every frame.

    Returns:
        ``(M,)`` int64, non-decreasing indices into the video (each ``< num_frames``).
    """
    if not fps > 0 or (frame_rate is not None and not frame_rate > 0):
        raise ValueError(
            f"{__name__}: expected fps > 0 and frame_rate > 0 or None, found fps={fps}, "
            f"frame_rate={frame_rate}; check the video's metadata or data.frame_rate."
        )
    if frame_rate is None:
        return np.arange(num_frames, dtype=np.int64)
    step = fps / frame_rate
    if float(step).is_integer():
        return np.arange(0, num_frames, int(step), dtype=np.int64)
    count = int(np.floor(num_frames * frame_rate / fps))
    # float32 as torchvision computes it, so boundary cases floor the same way
    scaled = np.arange(count, dtype=np.float32) * np.float32(step)
    return np.floor(scaled).astype(np.int64)


class CRWClipSpec(NamedTuple):
    """A CRW clip: ``clip_len`` consecutive frames of the video resampled to ``frame_rate``.

    Attributes:
        clip_len: frames per clip T (CRW README: 4).
        frame_rate: frames per second after resampling (CRW ``--frame-skip``, 8); ``None`` keeps
            the video's own rate.
    """

    clip_len: int = 4
    frame_rate: float | None = 8.0

    @property
    def rate(self) -> float | None:
        """The frame rate clips are resampled to (``frame_rate``)."""
        return self.frame_rate

    def clip_starts(self, num_frames: int, fps: float) -> tuple[np.ndarray, int]:
        """The resampled frame indices and the number of valid clip starts in them.

        Raises:
            ClipTooShortError: fewer than ``clip_len`` resampled frames.
        """
        if self.clip_len < 2:
            raise ValueError(
                f"{__name__}: a walk needs clip_len >= 2 frames, found {self.clip_len}; "
                "set data.clip_len (CRW: 4)."
            )
        frames = resampled_frames(num_frames, fps, self.frame_rate)
        starts = len(frames) - self.clip_len + 1
        if starts < 1:
            raise ClipTooShortError(
                f"{__name__}: a {num_frames}-frame video at {fps} fps has {len(frames)} "
                f"frames at frame_rate={self.frame_rate}, fewer than clip_len={self.clip_len}; "
                "skip this video or lower data.frame_rate."
            )
        return frames, starts

    def frame_indices(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[int]:
        """Draw one clip uniformly over its start positions.

        Args:
            num_frames: frames in the video.
            fps: the video's frame rate.
            rng: source of the start position.

        Returns:
            ``clip_len`` frame indices, oldest first; e.g. a 24 fps video at ``frame_rate=8`` and
            start s: ``[3s, 3s+3, 3s+6, 3s+9]``.

        Raises:
            ClipTooShortError: the video has no clip (callers skip it).
        """
        frames, starts = self.clip_starts(num_frames, fps)
        start = int(rng.integers(0, starts))
        return frames[start : start + self.clip_len].tolist()
