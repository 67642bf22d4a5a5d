"""Tests for clip transforms: short-side resize, shared crop/flip, normalisation."""

import numpy as np
import pytest
import torch

from cyclecorr.data.transforms import (
    CropFlip,
    apply_crop_flip,
    resize_short_side,
    sample_crop_flip,
    short_side_size,
    to_normalized_tensor,
)
from cyclecorr.ops.normalize import IMAGENET_MEAN, IMAGENET_STD, denormalize


def _ramp_frames(t: int, h: int, w: int) -> np.ndarray:
    """(t, h, w, 3) uint8 whose pixel (y, x) of frame i holds (y, x, i): positions are readable."""
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    frames = np.stack([np.stack([ys, xs, np.full_like(ys, i)], -1) for i in range(t)])
    return frames.astype(np.uint8)


def test_short_side_size_keeps_aspect() -> None:
    assert short_side_size(480, 854, 256) == (256, 455)
    assert short_side_size(854, 480, 256) == (455, 256)
    assert short_side_size(100, 100, 256) == (256, 256)


def test_resize_short_side_shapes_and_constant_image() -> None:
    frames = np.full((2, 48, 64, 3), 77, np.uint8)
    out = resize_short_side(frames, 24)
    assert out.shape == (2, 24, 32, 3) and out.dtype == np.uint8
    assert np.all(out == 77)  # a constant image stays constant when shrinking (antialiased)
    up = resize_short_side(frames, 96)
    assert up.shape == (2, 96, 128, 3) and np.all(up == 77)
    assert resize_short_side(frames, 48) is frames


def test_resize_shrink_is_antialiased() -> None:
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    frames[0, :, 0::2] = 100  # columns alternate 100, 0: aliasing would keep only one phase
    out = resize_short_side(frames, 4).astype(float)
    assert np.all(np.abs(out - 50) <= 10)
    assert abs(out.mean() - 50) <= 2


def test_crop_flip_shared_by_every_frame() -> None:
    frames = _ramp_frames(3, 40, 60)
    params = CropFlip(top=5, left=7, size=20, flip=False)
    out = apply_crop_flip(frames, params)
    assert out.shape == (3, 20, 20, 3)
    assert np.all(out[:, :, :, 0] == np.arange(5, 25)[None, :, None])  # rows 5..24
    assert np.all(out[:, :, :, 1] == np.arange(7, 27)[None, None, :])  # cols 7..26
    assert out[:, 0, 0, 2].tolist() == [0, 1, 2]  # frames kept in order
    flipped = apply_crop_flip(frames, params._replace(flip=True))
    assert np.all(flipped[:, :, :, 1] == np.arange(26, 6, -1)[None, None, :])
    assert np.array_equal(flipped, out[:, :, ::-1])


def test_sample_crop_flip_in_bounds_and_deterministic() -> None:
    rng = np.random.default_rng(0)
    draws = [sample_crop_flip(50, 70, 48, rng) for _ in range(200)]
    assert all(0 <= d.top <= 2 and 0 <= d.left <= 22 and d.size == 48 for d in draws)
    assert {d.top for d in draws} == {0, 1, 2}
    assert 60 < sum(d.flip for d in draws) < 140
    assert not any(sample_crop_flip(50, 70, 48, rng, flip_prob=0.0).flip for _ in range(20))
    a = sample_crop_flip(50, 70, 48, np.random.default_rng(3))
    assert a == sample_crop_flip(50, 70, 48, np.random.default_rng(3))


def test_small_frame_is_resized_up_before_cropping() -> None:
    frames = np.full((2, 20, 30, 3), 9, np.uint8)
    params = sample_crop_flip(20, 30, 40, np.random.default_rng(0))
    assert params.top == 0 and 0 <= params.left <= 20  # resized frame is 40x60
    out = apply_crop_flip(frames, params)
    assert out.shape == (2, 40, 40, 3) and np.all(out == 9)


def test_crop_that_does_not_fit_raises() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        apply_crop_flip(np.zeros((1, 30, 30, 3), np.uint8), CropFlip(10, 0, 25, False))


def test_normalisation_values_and_roundtrip() -> None:
    frames = np.zeros((1, 2, 2, 3), np.uint8)
    frames[0, 0, 0] = (255, 0, 128)
    images = to_normalized_tensor(frames)
    assert images.shape == (1, 3, 2, 2) and images.dtype == torch.float32
    expected = [(1.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], -IMAGENET_MEAN[1] / IMAGENET_STD[1]]
    assert images[0, 0, 0, 0].item() == pytest.approx(expected[0], abs=1e-6)
    assert images[0, 1, 0, 0].item() == pytest.approx(expected[1], abs=1e-6)
    back = denormalize(images)
    assert torch.allclose(
        back * 255, torch.from_numpy(frames).permute(0, 3, 1, 2).float(), atol=1e-3
    )


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\) uint8"):
        to_normalized_tensor(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        resize_short_side(np.zeros((1, 2, 2, 3), np.float32), 4)
