"""The clip contract every video dataset draws with, whatever the objective.

A clip geometry answers ``frame_indices(num_frames, fps, rng)`` with the frames one training
sample reads (``ClipSampler``); TimeCycle's is ``cyclecorr.data.timecycle.clips.ClipSpec``, CRW's
``cyclecorr.data.crw.clips.CRWClipSpec``. A video with no clip raises ``ClipTooShortError``, which
the datasets catch to skip the video (a long run never dies on one short video).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class ClipTooShortError(ValueError):
    """A video has too few frames to make a clip (fewer than 2)."""


class ClipSampler(Protocol):
    """Any clip geometry a video dataset can draw frames with (``ClipSpec``, ``CRWClipSpec``)."""

    @property
    def clip_len(self) -> int:
        """Frames of the clip the objective sees (past frames for ``ClipSpec``)."""
        ...

    @property
    def rate(self) -> float | None:
        """Frame rate the clip's offsets count frames at (``None``: a video's own frames)."""
        ...

    def frame_indices(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[int]:
        """Frame indices to read, in order; raises ``ClipTooShortError`` when there is no clip."""
        ...
