"""One contrastive-random-walk training sample: every frame cut into a grid of jittered patches.

CRW's ``--frame-aug grid`` pipeline (ajabri/videowalk ``utils/augs.py``, README train command),
applied to each frame of a clip *independently* (its ``MapTransform`` runs the transform per
frame, so each frame draws its own crop)::

    frame uint8 (H, W, 3)
      -> RandomResizedCrop(image_size=256, scale=(0.8, 0.95), ratio=(0.7, 1.3))      [per frame]
      -> windows of patch_size=64 at stride 32 (7x7 = 49 on 256 px, row-major)
      -> RandomResizedCrop(64, scale=(0.7, 0.9), ratio=(3/4, 4/3)) of each window   [per patch]
      -> x / 255, normalised with CRW's constants (mean 0.4914, 0.4822, 0.4465;
         std 0.2023, 0.1994, 0.2010; not ImageNet's)

giving ``{"patches": (T, N, 3, P, P)}``; the nodes of the walk are these patches. Randomness comes
from the ``rng`` passed in, drawn frame by frame (the frame's crop, then its patches in order).
``crop_per_frame=False`` shares one frame crop across the clip (a deviation, off by default).
A consequence of CRW's crop parameters, kept as they are: on 16:9 frames no crop of 80-95 % of
the area with aspect <= 1.3 fits, so all ten tries fail and torchvision's fallback, the centred
1.3:1 window, is used for every frame (random crops only happen on narrower video, e.g. 4:3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from cyclecorr.data.crw.resized_crop import (
    crop_and_resize,
    random_resized_crop,
    sample_resized_crop,
)
from cyclecorr.data.transforms import to_normalized_tensor

CRW_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CRW_STD: tuple[float, float, float] = (0.2023, 0.1994, 0.2010)


def grid_windows(image: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every ``size x size`` window at ``stride`` (``skimage.util.view_as_windows`` order).

    Args:
        image: ``(H, W, 3)`` uint8.
        size: window side.
        stride: step between windows, both axes.

    Returns:
        ``(N, size, size, 3)`` uint8 with ``N = ny * nx``, ``ny = (H - size) // stride + 1``;
        window ``n = iy * nx + ix`` starts at row ``iy * stride``, column ``ix * stride``.
    """
    height, width = image.shape[:2]
    if size > min(height, width) or size < 1 or stride < 1:
        raise ValueError(
            f"{__name__}: windows of {size} px at stride {stride} do not fit a "
            f"{height}x{width} image; need 1 <= patch_size <= image_size and patch_stride >= 1."
        )
    tops = range(0, height - size + 1, stride)
    lefts = range(0, width - size + 1, stride)
    return np.stack([image[y : y + size, x : x + size] for y in tops for x in lefts])


class CRWSampleBuilder:
    """Turn a clip's raw frames into CRW's patch grid, deterministically given ``rng``.

    Args:
        image_size: side of each frame's random resized crop (CRW ``--img-size``, 256).
        frame_scale: area fraction of the frame crop (0.8, 0.95).
        frame_ratio: aspect ratio range of the frame crop (0.7, 1.3).
        patch_size: patch (node) side (CRW ``--patch-size``, 64).
        patch_stride: step between patches (CRW: half the patch, 32).
        patch_scale: area fraction of each patch's jitter crop (0.7, 0.9).
        patch_ratio: aspect ratio range of the jitter crop (3/4, 4/3).
        crop_per_frame: draw a frame crop for every frame (CRW) or one for the whole clip.
        mean: normalisation mean (CRW's constants).
        std: normalisation std (CRW's constants).
    """

    def __init__(
        self,
        image_size: int = 256,
        frame_scale: Sequence[float] = (0.8, 0.95),
        frame_ratio: Sequence[float] = (0.7, 1.3),
        patch_size: int = 64,
        patch_stride: int = 32,
        patch_scale: Sequence[float] = (0.7, 0.9),
        patch_ratio: Sequence[float] = (3 / 4, 4 / 3),
        crop_per_frame: bool = True,
        mean: Sequence[float] = CRW_MEAN,
        std: Sequence[float] = CRW_STD,
    ) -> None:
        if not 1 <= patch_size <= image_size or patch_stride < 1:
            raise ValueError(
                f"{__name__}: need 1 <= patch_size <= image_size and patch_stride >= 1, "
                f"found patch_size={patch_size}, image_size={image_size}, "
                f"patch_stride={patch_stride}; CRW uses 64, 256 and 32."
            )
        self.image_size = image_size
        self.frame_scale = tuple(frame_scale)
        self.frame_ratio = tuple(frame_ratio)
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.patch_scale = tuple(patch_scale)
        self.patch_ratio = tuple(patch_ratio)
        self.crop_per_frame = crop_per_frame
        self.mean = (float(mean[0]), float(mean[1]), float(mean[2]))
        self.std = (float(std[0]), float(std[1]), float(std[2]))

    @property
    def patches_per_frame(self) -> int:
        """Nodes per frame N (49 for CRW's 256 / 64 / 32)."""
        per_axis = (self.image_size - self.patch_size) // self.patch_stride + 1
        return per_axis * per_axis

    def frame_patches(self, frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The jittered patches of one (already cropped) frame: ``(N, P, P, 3)`` uint8."""
        windows = grid_windows(frame, self.patch_size, self.patch_stride)
        return np.stack(
            [
                random_resized_crop(w, self.patch_size, self.patch_scale, self.patch_ratio, rng)
                for w in windows
            ]
        )

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> dict[str, Tensor]:
        """Build one sample.

        Args:
            frames: ``(T, H, W, 3)`` uint8 RGB, oldest first.
            rng: all randomness of the sample (frame crops, patch jitter).

        Returns:
            ``{"patches": (T, N, 3, P, P) float32}``, normalised with ``mean`` / ``std``; patch
            ``n`` of frame ``t`` is grid window ``n`` (row-major) of that frame's crop.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"{__name__}: expected frames (T, H, W, 3) uint8 RGB, found shape "
                f"{tuple(frames.shape)} dtype {frames.dtype}."
            )
        box = None
        per_frame = []
        for frame in frames:
            if box is None or self.crop_per_frame:
                height, width = frame.shape[:2]
                box = sample_resized_crop(height, width, self.frame_scale, self.frame_ratio, rng)
            image = crop_and_resize(frame, box, self.image_size)  # (S, S, 3)
            per_frame.append(self.frame_patches(image, rng))
        patches = np.stack(per_frame)  # (T, N, P, P, 3)
        t, n = patches.shape[:2]
        flat = to_normalized_tensor(patches.reshape(t * n, *patches.shape[2:]), self.mean, self.std)
        return {"patches": flat.unflatten(0, (t, n)).contiguous()}  # (T, N, 3, P, P)
