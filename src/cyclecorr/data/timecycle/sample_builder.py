"""One training sample from the raw frames of a clip (METHOD.md section 2).

``SampleBuilder`` chains the shared crop/flip (``transforms``), normalisation and the
motion-weighted patch choice (``patch_sampling``) into the dict of docs/design.md::

    frames uint8 (k+2, H, W, 3) [past..., target, motion]
      -> crop + flip (shared) -> normalise -> patch from target at theta
      -> {"frames": (k+1, 3, S, S), "patch": (3, S/3, S/3), "theta": (2, 3)}

The crop side S must divide by 24 so the frame (S) and the patch (S/3) both map to whole
feature cells at the encoder's stride 8. The motion frame gets the same crop and flip; it only
steers the patch choice and is not returned.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from cyclecorr.data.timecycle.patch_sampling import check_jitter, sample_patch
from cyclecorr.data.transforms import (
    apply_crop_flip,
    resize_short_side,
    sample_crop_flip,
    to_normalized_tensor,
)
from cyclecorr.ops.geometry import CLAMPS, FEATURE_STRIDE, PATCH_SCALE

_CROP_MULTIPLE = round(FEATURE_STRIDE / PATCH_SCALE)  # 24: patch = S/3, stride 8


class SampleBuilder:
    """Turn a clip's raw frames into a training sample, deterministically given ``rng``.

    Args:
        crop_size: square crop side S (240 in the release); a multiple of 24.
        patch_grid: candidate windows per side (7).
        patch_top_k: the patch window is drawn among this many most-moving windows (10).
        max_angle_deg: patch rotation drawn in ``[-max, max]`` degrees (45).
        jitter_px: patch centre jitter, uniform in ``+-jitter_px`` crop pixels per axis (8);
            ``None`` when ``jitter_fraction`` is set.
        flip: random horizontal flip (p = 0.5) shared by the clip.
        resize_to: when given, frames are first resized so their short side is this many pixels
            (256 in the release), for readers that cannot resize at decode time.
        jitter_fraction: the release's jitter instead: uniform in ``+-jitter_fraction`` of the
            window-position range per axis (1/12 in the release: ``+-S/18`` px, 13.3 px at 240);
            requires ``jitter_px=None``. See ``cyclecorr.data.timecycle.patch_sampling``.
        clamp: ``"corners"`` (rotated patch kept inside the frame) or ``"centre"`` (the release:
            only the centre clamped, to ``[-2/3, 2/3]``).
        align_corners: convention of ``theta`` and of the patch cut; must equal the tracker's
            (the configs interpolate it from ``model.tracker.align_corners``; the release:
            ``True``). The release's 227/210 quirk never applies to this cut.
        mirror_window_on_flip: on flipped clips, place the patch at the mirror image (column
            ``grid - 1 - col``) of the window chosen on the flipped frames. This reproduces a
            bug of the release (``vlog_train.py`` scores the flipped frames, then mirrors the
            chosen column again), which on half the clips puts the patch where the motion is
            not; off by default.
    """

    def __init__(
        self,
        crop_size: int = 240,
        patch_grid: int = 7,
        patch_top_k: int = 10,
        max_angle_deg: float = 45.0,
        jitter_px: float | None = 8,
        flip: bool = True,
        resize_to: int | None = None,
        jitter_fraction: float | None = None,
        clamp: str = "corners",
        align_corners: bool = False,
        mirror_window_on_flip: bool = False,
    ) -> None:
        if crop_size <= 0 or crop_size % _CROP_MULTIPLE != 0:
            raise ValueError(
                f"{__name__}: crop_size must be a positive multiple of {_CROP_MULTIPLE} so the "
                f"frame and its 1/3 patch map to whole stride-8 feature cells, found {crop_size}; "
                "use e.g. 240 (release), 144 or 96."
            )
        if resize_to is not None and resize_to < crop_size:
            raise ValueError(
                f"{__name__}: resize_to ({resize_to}) must be >= crop_size ({crop_size}); "
                "the crop is taken from the resized frame."
            )
        check_jitter(jitter_px, jitter_fraction)
        if clamp not in CLAMPS:
            raise ValueError(
                f"{__name__}: clamp={clamp!r}; expected one of {CLAMPS} (set data.builder.clamp)."
            )
        self.crop_size = crop_size
        self.patch_size = crop_size // 3
        self.patch_grid = patch_grid
        self.patch_top_k = patch_top_k
        self.max_angle_deg = max_angle_deg
        self.jitter_px = jitter_px
        self.flip = flip
        self.resize_to = resize_to
        self.jitter_fraction = jitter_fraction
        self.clamp = clamp
        self.align_corners = align_corners
        self.mirror_window_on_flip = mirror_window_on_flip

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> dict[str, Tensor]:
        """Build one sample.

        Args:
            frames: ``(clip_len + 2, H, W, 3)`` uint8 RGB: past frames oldest first, the target,
                then the motion frame.
            rng: all randomness of the sample (crop, flip, patch window, jitter, angle).

        Returns:
            ``{"frames": (clip_len + 1, 3, S, S) float32 normalised (past oldest first, then
            target), "patch": (3, S/3, S/3) float32, "theta": (2, 3) float32}``.
        """
        if frames.ndim != 4 or frames.shape[0] < 3:
            raise ValueError(
                f"{__name__}: expected frames (clip_len + 2, H, W, 3) with at least one past "
                "frame, "
                f"the target and the motion frame, found shape {tuple(frames.shape)}."
            )
        if self.resize_to is not None:
            frames = resize_short_side(frames, self.resize_to)
        height, width = frames.shape[1:3]
        flip_prob = 0.5 if self.flip else 0.0
        params = sample_crop_flip(height, width, self.crop_size, rng, flip_prob=flip_prob)
        images = to_normalized_tensor(apply_crop_flip(frames, params))  # (k+2, 3, S, S)
        patch = sample_patch(
            images[-2],
            images[-1],
            rng,
            grid=self.patch_grid,
            top_k=self.patch_top_k,
            max_angle_deg=self.max_angle_deg,
            jitter_px=self.jitter_px,
            patch_size=self.patch_size,
            jitter_fraction=self.jitter_fraction,
            clamp=self.clamp,
            align_corners=self.align_corners,
            mirror_columns=self.mirror_window_on_flip and params.flip,
        )
        return {"frames": images[:-1].contiguous(), "patch": patch.patch, "theta": patch.theta}
