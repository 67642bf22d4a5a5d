"""Training clips cut from generated video (``cyclecorr.data.synthetic.scene``), rendered on demand.

Item contract (shared with the real-video dataset and the sampler): ``dataset[draw]`` serves
video ``draw % len(dataset)``. A video's scene depends only on ``(seed, video_id)``, so it is the
same video every epoch; the clip's randomness (frame indices, crop, flip, patch) comes from
``np.random.default_rng([seed, draw])``. Only the ``clip_len + 2`` frames the clip needs are
rendered (past frames, target, motion frame), at the size the builder crops from, so there is no
decoding or resizing. Generated videos are taken to run at the clip's own rate (``clip.rate``:
``ClipSpec.target_fps``, ``CRWClipSpec.frame_rate``), so clip offsets count generated frames. Any
clip geometry and builder pair works (TimeCycle's or CRW's: ``conf/clips/``).

Deliberate detail: scenes are seeded with ``[seed, video_id, 2]``. Plain ``[seed, video_id]``
(or ``[seed, video_id, 0]``, which numpy's SeedSequence treats as the same entropy) would make
the scene stream coincide with the clip stream ``[seed, draw]`` for ``draw < num_videos``.
Held-out DAVIS-layout videos use ``[seed, i, 1]`` (``cyclecorr.data.synthetic.davis_export``), so
they never repeat a training video.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from cyclecorr.data.clips import ClipSampler
from cyclecorr.data.synthetic.scene import SyntheticVideo, SyntheticVideoSpec
from cyclecorr.data.timecycle.clips import ClipSpec
from cyclecorr.data.timecycle.sample_builder import SampleBuilder

TRAIN_SEED_SALT = 2
_FPS_WITHOUT_TARGET = 12.0  # any value works: without target_fps no resampling happens


class SyntheticClipDataset(Dataset):
    """Clips of ``num_videos`` generated videos, as training-sample dicts.

    Args:
        num_videos: number of distinct videos (``len(dataset)``).
        height: frame rows (the builder crops from this size).
        width: frame columns.
        num_frames: frames per video.
        num_objects: foreground objects per video.
        max_speed_px: object translation speed bound (pixels per frame).
        max_rotation_deg: object rotation speed bound (degrees per frame).
        scale_range: object scale range over a video.
        background_speed_px: camera pan speed (pixels per frame).
        object_size_range: object diameter as a fraction of the short side.
        clip: which frames make a clip (any ``ClipSampler``); default ``ClipSpec()``.
        builder: turns the clip's ``(T, H, W, 3)`` uint8 frames into the sample dict; default
            ``SampleBuilder(crop_size=c)`` with ``c`` the largest multiple of 24 at most 90 % of
            the short side (144 for 160x160 frames).
        seed: seed of the whole dataset (0 is a valid seed).

    Items are the builder's sample (TimeCycle: ``{"frames": (k+1, 3, S, S) float32, "patch":
    (3, P, P) float32, "theta": (2, 3) float32}``; CRW: ``{"patches": ...}``) plus ``"index"``
    (int64 scalar, the draw) and ``"skipped"`` (int64 scalar, 0).
    """

    def __init__(
        self,
        num_videos: int = 512,
        height: int = 160,
        width: int = 160,
        num_frames: int = 32,
        num_objects: int = 3,
        max_speed_px: float = 3.0,
        max_rotation_deg: float = 3.0,
        scale_range: Sequence[float] = (0.9, 1.1),
        background_speed_px: float = 1.0,
        object_size_range: Sequence[float] = (0.2, 0.45),
        clip: ClipSampler | None = None,
        builder: Callable[[np.ndarray, np.random.Generator], dict[str, torch.Tensor]] | None = None,
        seed: int = 0,
    ) -> None:
        if num_videos < 1 or seed < 0:
            raise ValueError(
                f"{__name__}: need num_videos >= 1 and seed >= 0, found "
                f"num_videos={num_videos}, seed={seed}; fix the data config."
            )
        self.num_videos = num_videos
        self.seed = seed
        self.video_spec = SyntheticVideoSpec(
            height=height,
            width=width,
            num_frames=num_frames,
            num_objects=num_objects,
            max_speed_px=max_speed_px,
            max_rotation_deg=max_rotation_deg,
            scale_range=_pair(scale_range, "scale_range"),
            background_speed_px=background_speed_px,
            object_size_range=_pair(object_size_range, "object_size_range"),
        )
        self.clip: ClipSampler = clip if clip is not None else ClipSpec()
        if builder is None:
            builder = SampleBuilder(crop_size=24 * max(1, int(0.9 * min(height, width)) // 24))
        self.builder = builder
        rate = self.clip.rate
        self.fps = float(rate) if rate is not None else _FPS_WITHOUT_TARGET

    def __len__(self) -> int:
        return self.num_videos

    def video(self, video_id: int) -> SyntheticVideo:
        """The generated video ``video_id`` (0 <= video_id < len(self)), same every call."""
        seed = (self.seed, video_id, TRAIN_SEED_SALT)
        return SyntheticVideo(dataclasses.replace(self.video_spec, seed=seed))

    def clip_frames(self, draw: int) -> tuple[np.ndarray, np.random.Generator]:
        """Render the frames of clip ``draw`` and the clip's generator, for the builder.

        The frames are ``(T, H, W, 3)`` uint8 in the clip's order (TimeCycle: past frames oldest
        first, target, motion frame).
        """
        if draw < 0:
            raise IndexError(
                f"{__name__}: draw must be >= 0, found {draw}; negative indices are not supported."
            )
        video = self.video(draw % self.num_videos)
        rng = np.random.default_rng([self.seed, draw])
        wanted = self.clip.frame_indices(self.video_spec.num_frames, self.fps, rng)
        rendered = {t: video.render(t).image for t in sorted(set(wanted))}
        return np.stack([rendered[t] for t in wanted]), rng  # (T, H, W, 3)

    def __getitem__(self, draw: int) -> dict[str, torch.Tensor]:
        frames, rng = self.clip_frames(draw)
        sample = self.builder(frames, rng)
        sample["index"] = torch.tensor(draw, dtype=torch.int64)
        sample["skipped"] = torch.tensor(0, dtype=torch.int64)
        return sample


def _pair(values: Sequence[float], name: str) -> tuple[float, float]:
    """A 2-sequence from a config (Hydra gives lists) as a tuple of floats."""
    if len(values) != 2:
        raise ValueError(
            f"{__name__}: {name} must have 2 values (low, high), found {list(values)}; "
            "fix the data config."
        )
    return float(values[0]), float(values[1])
