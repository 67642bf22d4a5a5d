"""Tests for SampleBuilder: the training-sample dict of docs/design.md."""

import numpy as np
import pytest
import torch

from cyclecorr.data.timecycle.patch_sampling import cut_patch
from cyclecorr.data.timecycle.sample_builder import SampleBuilder
from cyclecorr.ops.normalize import denormalize


def _clip(seed: int = 0, t: int = 6, h: int = 56, w: int = 64) -> np.ndarray:
    """(t, h, w, 3) uint8: one random texture shifted right by 1 px per frame."""
    base = np.random.default_rng(seed).integers(0, 256, (h, w + t, 3), dtype=np.uint8)
    return np.stack([base[:, t - i : t - i + w] for i in range(t)])


def test_shapes_dtypes_and_patch_consistency() -> None:
    builder = SampleBuilder(crop_size=48)
    sample = builder(_clip(), np.random.default_rng(0))
    assert set(sample) == {"frames", "patch", "theta"}
    assert sample["frames"].shape == (5, 3, 48, 48) and sample["frames"].dtype == torch.float32
    assert sample["patch"].shape == (3, 16, 16) and sample["theta"].shape == (2, 3)
    recut = cut_patch(sample["frames"][-1], sample["theta"], 16)  # patch comes from the target
    assert torch.allclose(recut, sample["patch"], atol=1e-6)


def test_deterministic_given_rng() -> None:
    builder = SampleBuilder(crop_size=48)
    a = builder(_clip(), np.random.default_rng([3, 9]))
    b = builder(_clip(), np.random.default_rng([3, 9]))
    c = builder(_clip(), np.random.default_rng([3, 10]))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["theta"], c["theta"])


def test_one_crop_and_flip_shared_by_all_frames() -> None:
    frames = np.repeat(_clip(1)[:1], 6, axis=0)  # identical frames
    for seed in range(4):
        out = SampleBuilder(crop_size=48)(frames, np.random.default_rng(seed))["frames"]
        assert torch.equal(out[0], out[-1]) and torch.equal(out[0], out[2])


def test_crop_is_from_the_frames_and_flip_off_keeps_orientation() -> None:
    frames = _clip(2, h=48, w=48)  # crop == frame: only the flip can change it
    out = SampleBuilder(crop_size=48, flip=False)(frames, np.random.default_rng(0))
    pixels = (denormalize(out["frames"]) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    assert np.array_equal(pixels.numpy(), frames[:5])
    flips = 0
    for seed in range(20):
        got = SampleBuilder(crop_size=48)(frames, np.random.default_rng(seed))["frames"]
        flipped = (denormalize(got[0]) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        flips += int(np.array_equal(flipped, frames[0, :, ::-1]))
    assert 3 <= flips <= 17


def test_motion_frame_steers_the_patch() -> None:
    frames = np.repeat(_clip(3, h=48, w=48)[:1], 6, axis=0)
    frames[-1, 32:48, 32:48] = 255 - frames[-1, 32:48, 32:48]  # change only bottom-right
    builder = SampleBuilder(crop_size=48, flip=False, max_angle_deg=0.0, jitter_px=0)
    for seed in range(10):
        theta = builder(frames, np.random.default_rng(seed))["theta"]
        assert theta[0, 2] > 0 and theta[1, 2] > 0  # patch centre in the bottom-right quarter


def test_resize_to_and_small_frames() -> None:
    out = SampleBuilder(crop_size=48, resize_to=64)(
        _clip(4, h=128, w=160), np.random.default_rng(0)
    )
    assert out["frames"].shape == (5, 3, 48, 48)
    small = SampleBuilder(crop_size=48)(_clip(5, h=30, w=40), np.random.default_rng(0))
    assert small["frames"].shape == (5, 3, 48, 48)  # resized up, not padded


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="multiple of 24"):
        SampleBuilder(crop_size=100)
    with pytest.raises(ValueError, match="resize_to"):
        SampleBuilder(crop_size=48, resize_to=40)
    with pytest.raises(ValueError, match="clip_len \\+ 2"):
        SampleBuilder(crop_size=48)(np.zeros((2, 48, 48, 3), np.uint8), np.random.default_rng(0))


def test_release_patch_options_reach_the_cut() -> None:
    """align_corners, jitter_fraction and clamp are passed to the patch: the patch is the
    target cut at theta under align_corners=True, and the release's jitter stays within S/18."""
    builder = SampleBuilder(
        crop_size=48, jitter_px=None, jitter_fraction=1 / 12, clamp="centre", align_corners=True
    )
    for seed in range(5):
        sample = builder(_clip(6), np.random.default_rng(seed))
        target, theta = sample["frames"][-1], sample["theta"]
        assert torch.allclose(cut_patch(target, theta, 16, align_corners=True), sample["patch"])
        assert not torch.allclose(cut_patch(target, theta, 16), sample["patch"], atol=1e-3)
        assert theta[:, 2].abs().max() <= 2 / 3 + 1e-6  # the centre clamp
    plain = SampleBuilder(crop_size=48)
    assert (plain.jitter_px, plain.jitter_fraction, plain.clamp) == (8, None, "corners")
    assert plain.align_corners is False


def test_release_patch_options_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="exactly one of jitter_px"):
        SampleBuilder(crop_size=48, jitter_fraction=1 / 12)  # jitter_px still 8
    with pytest.raises(ValueError, match="clamp='box'"):
        SampleBuilder(crop_size=48, clamp="box")


def test_mirror_window_on_flip_reproduces_the_release() -> None:
    """Motion only in the bottom-right: the window is chosen there (in the flipped frames, the
    bottom-left). Without the option the patch follows the motion; with it, flipped clips get
    the mirror-image column, so the patch stays bottom-right of the (flipped) crop."""
    frames = np.repeat(_clip(7, h=48, w=48)[:1], 6, axis=0)
    frames[-1, 32:48, 32:48] = 255 - frames[-1, 32:48, 32:48]
    options = {"crop_size": 48, "max_angle_deg": 0.0, "jitter_px": 0, "patch_top_k": 4}
    follow = SampleBuilder(**options)
    mirror = SampleBuilder(**options, mirror_window_on_flip=True)
    flipped = 0
    for seed in range(16):
        plain = follow(frames, np.random.default_rng(seed))["theta"]
        release = mirror(frames, np.random.default_rng(seed))["theta"]
        assert plain[1, 2] > 0 and release[1, 2] > 0  # rows are never mirrored
        assert release[0, 2] > 0  # right half, flipped or not
        if plain[0, 2] < 0:  # flipped clip: the motion is on the left of the crop
            flipped += 1
            assert torch.allclose(release[0, 2], -plain[0, 2])
        else:
            assert torch.equal(release, plain)
    assert 3 <= flipped <= 13
    assert SampleBuilder(crop_size=48).mirror_window_on_flip is False
