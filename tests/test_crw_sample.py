"""CRW's training sample: random resized crops (data/resized_crop.py) and the patch grid
(data/walk_sample.py), against hand-computed windows and CRW's augs.py constants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cyclecorr.data.crw.resized_crop import (
    CropBox,
    centre_fallback,
    crop_and_resize,
    resize_uint8,
    sample_resized_crop,
)
from cyclecorr.data.crw.sample_builder import CRW_MEAN, CRW_STD, CRWSampleBuilder, grid_windows


def test_resized_crop_boxes_follow_scale_and_ratio() -> None:
    rng = np.random.default_rng(0)
    boxes = {sample_resized_crop(480, 640, (0.8, 0.95), (0.7, 1.3), rng) for _ in range(300)}
    fallback = centre_fallback(480, 640, (0.7, 1.3))  # when all 10 tries are too tall
    assert fallback == CropBox(0, 8, 480, 624) and len(boxes) > 200
    for box in boxes - {fallback}:
        assert box.top >= 0 and box.left >= 0
        assert box.top + box.height <= 480 and box.left + box.width <= 640
        # rounding w and h to pixels moves area and aspect by at most ~1 px per side
        assert 0.8 - 0.01 <= box.height * box.width / (480 * 640) <= 0.95 + 0.01
        assert 0.7 - 0.01 <= box.width / box.height <= 1.3 + 0.01


def test_wide_frames_always_get_the_centred_fallback() -> None:
    """CRW's frame crop on 16:9 video: 80% of the area at aspect <= 1.3 is taller than the
    frame, so all 10 tries fail and torchvision returns the centred 1.3:1 crop, every time."""
    rng = np.random.default_rng(0)
    boxes = {sample_resized_crop(480, 854, (0.8, 0.95), (0.7, 1.3), rng) for _ in range(50)}
    assert boxes == {CropBox(0, 115, 480, 624)}


def test_resized_crop_is_seeded_and_falls_back_to_the_centre() -> None:
    draw = [sample_resized_crop(64, 64, (0.7, 0.9), (0.75, 4 / 3), np.random.default_rng(3))]
    draw.append(sample_resized_crop(64, 64, (0.7, 0.9), (0.75, 4 / 3), np.random.default_rng(3)))
    assert draw[0] == draw[1]
    # a full-area crop of aspect 2..3 never fits a square: torchvision's centred fallback
    assert sample_resized_crop(60, 60, (1, 1), (2, 3), np.random.default_rng(0)) == CropBox(
        15, 0, 30, 60
    )
    assert centre_fallback(100, 40, (0.75, 1.33)) == CropBox(23, 0, 53, 40)  # round(40 / 0.75)
    assert centre_fallback(50, 60, (0.75, 1.33)) == CropBox(0, 0, 50, 60)
    with pytest.raises(ValueError, match="0 < low <= high"):
        sample_resized_crop(10, 10, (0.9, 0.5), (1, 1), np.random.default_rng(0))


def test_resize_uint8_and_crop() -> None:
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert resize_uint8(image, (20, 30)) is image
    flat = np.full((20, 30, 3), 77, np.uint8)
    assert (resize_uint8(flat, (7, 9)) == 77).all() and (resize_uint8(flat, (40, 41)) == 77).all()
    assert np.array_equal(crop_and_resize(image, CropBox(2, 3, 10, 10), 10), image[2:12, 3:13])
    with pytest.raises(ValueError, match="does not fit"):
        crop_and_resize(image, CropBox(15, 0, 10, 10), 10)


def test_grid_windows_row_major_at_stride() -> None:
    image = np.arange(256 * 256 * 3, dtype=np.int64).reshape(256, 256, 3).astype(np.uint8)
    windows = grid_windows(image, 64, 32)
    assert windows.shape == (49, 64, 64, 3)  # CRW: 7 x 7 patches of 64 at stride 32 on 256
    for n in (0, 1, 7, 48):
        iy, ix = divmod(n, 7)
        assert np.array_equal(windows[n], image[32 * iy : 32 * iy + 64, 32 * ix : 32 * ix + 64])
    with pytest.raises(ValueError, match="do not fit"):
        grid_windows(image[:32], 64, 32)


def test_sample_shape_normalisation_and_determinism() -> None:
    frames = np.full((4, 120, 200, 3), 128, np.uint8)
    builder = CRWSampleBuilder(image_size=64, patch_size=16, patch_stride=8)
    sample = builder(frames, np.random.default_rng(0))
    assert builder.patches_per_frame == 49
    assert sample["patches"].shape == (4, 49, 3, 16, 16)
    expected = (128 / 255 - torch.tensor(CRW_MEAN)) / torch.tensor(CRW_STD)  # CRW's constants
    assert torch.allclose(sample["patches"][0, 0, :, 0, 0], expected, atol=1e-6)
    assert CRW_MEAN == (0.4914, 0.4822, 0.4465) and CRW_STD == (0.2023, 0.1994, 0.2010)
    again = builder(frames, np.random.default_rng(0))
    assert torch.equal(sample["patches"], again["patches"])


def test_without_jitter_the_patches_are_the_grid_windows() -> None:
    """scale/ratio 1 and image_size = frame size: every crop is the identity."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    builder = CRWSampleBuilder(
        48, (1, 1), (1, 1), 16, 8, (1, 1), (1, 1), mean=(0, 0, 0), std=(1, 1, 1)
    )
    patches = builder(frames, rng)["patches"]  # (2, 25, 3, 16, 16)
    assert patches.shape == (2, 25, 3, 16, 16)
    for t, n in [(0, 0), (1, 6), (1, 24)]:
        iy, ix = divmod(n, 5)
        window = frames[t, 8 * iy : 8 * iy + 16, 8 * ix : 8 * ix + 16]
        assert torch.allclose(patches[t, n], torch.from_numpy(window).permute(2, 0, 1) / 255.0)


def test_frame_crops_are_drawn_per_frame_unless_shared() -> None:
    still = np.repeat(
        np.random.default_rng(2).integers(0, 256, (1, 90, 120, 3), dtype=np.uint8), 3, axis=0
    )

    def build(per_frame: bool) -> torch.Tensor:
        builder = CRWSampleBuilder(
            64,
            patch_size=32,
            patch_stride=16,
            patch_scale=(1, 1),
            patch_ratio=(1, 1),
            crop_per_frame=per_frame,
        )
        return builder(still, np.random.default_rng(0))["patches"]

    shared, per_frame = build(False), build(True)
    assert torch.equal(shared[0], shared[1]) and torch.equal(shared[1], shared[2])
    assert not torch.equal(per_frame[0], per_frame[1])  # CRW: each frame its own crop


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError, match="patch_size <= image_size"):
        CRWSampleBuilder(image_size=32, patch_size=64)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\) uint8"):
        CRWSampleBuilder()(np.zeros((4, 64, 64, 3), np.float32), np.random.default_rng(0))
