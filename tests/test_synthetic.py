"""Golden tests for generated video: textures, silhouettes, motion, rendering, tracks, export."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cyclecorr.data.synthetic.davis_export import (
    davis_palette,
    write_synthetic_davis,
    write_synthetic_sequence,
)
from cyclecorr.data.synthetic.motion import Motion, pose_at, sample_motion
from cyclecorr.data.synthetic.scene import (
    Scene,
    SceneObject,
    SyntheticVideo,
    SyntheticVideoSpec,
    generate_video,
)
from cyclecorr.data.synthetic.textures import Shape, bilinear_sample, random_texture, value_noise

SMALL = SyntheticVideoSpec(height=64, width=80, num_frames=6, num_objects=2, seed=3)


def still_motion(centre: tuple[float, float], drift: tuple[float, float] = (0.0, 0.0)) -> Motion:
    """A motion with only a constant drift: no oscillation, rotation or scale change."""
    return Motion(
        centre=np.array(centre),
        drift=np.array(drift),
        amplitude=np.zeros(2),
        omega=0.1,
        phase=np.zeros(2),
        angle=0.0,
        spin=0.0,
        scale_start=1.0,
        scale_end=1.0,
    )


def make_object(shape: Shape, motion: Motion, seed: int, points: np.ndarray) -> SceneObject:
    side = 2 * math.ceil(shape.radius) + 3
    return SceneObject(
        shape, random_texture(side, side, np.random.default_rng(seed)), motion, points
    )


def make_video(objects: list[SceneObject], velocity=(0.0, 0.0), size=(64, 64), frames=5):
    spec = SyntheticVideoSpec(height=size[0], width=size[1], num_frames=frames)
    background = random_texture(96, 96, np.random.default_rng(99))
    bg_points = np.array([[10.0, 10.0], [32.0, 32.0]])
    scene = Scene(background, np.array(velocity), bg_points, tuple(objects))
    return SyntheticVideo(spec, scene)


def sample_frame(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return bilinear_sample(image.astype(np.float32), xy[:, 0], xy[:, 1], wrap=False)


# ---------------------------------------------------------------- textures and silhouettes


def test_bilinear_sample_hand_values() -> None:
    image = np.arange(12, dtype=np.float32).reshape(3, 4, 1)  # value = 4 * row + col
    x = np.array([0.0, 1.5, 3.0, 3.5])
    y = np.array([0.0, 0.5, 2.0, 0.0])
    assert bilinear_sample(image, x, y, wrap=False)[:, 0].tolist() == [0.0, 3.5, 11.0, 3.0]
    # Wrapping: halfway between the last column (3) and the first (0) of row 0.
    assert bilinear_sample(image, x[3:], y[3:], wrap=True)[0, 0] == pytest.approx(1.5)


def test_value_noise_is_periodic_and_bounded() -> None:
    noise = value_noise(32, 48, 8.0, 2, np.random.default_rng(0))
    assert noise.shape == (32, 48, 2) and noise.dtype == np.float32
    assert 0.0 <= noise.min() and noise.max() <= 1.0
    # Seamless tiling: the step across the wrap is as small as steps inside the tile.
    inner = np.abs(np.diff(noise, axis=1)).max()
    seam = np.abs(noise[:, 0] - noise[:, -1]).max()
    assert seam <= inner + 1e-6
    # At one lattice point per pixel the noise is the lattice itself: values are not blurred.
    lattice_noise = value_noise(4, 4, 1.0, 1, np.random.default_rng(5))
    expected = np.random.default_rng(5).random((4, 4, 1), dtype=np.float32)
    np.testing.assert_allclose(lattice_noise, expected, atol=1e-6)


def test_textures_differ_and_have_detail() -> None:
    a = random_texture(64, 64, np.random.default_rng(0))
    b = random_texture(64, 64, np.random.default_rng(1))
    assert a.shape == (64, 64, 3) and 0 <= a.min() and a.max() <= 255
    assert np.abs(a - b).mean() > 20  # distinct looks
    assert np.abs(np.diff(a, axis=1)).mean() > 1.0  # fine structure, not a flat colour


def test_shape_contains_hand_cases() -> None:
    diamond = Shape("polygon", 10.0, 10.0, sides=4)  # vertices on the axes: |u| + |v| <= 10
    u = np.array([4.9, 5.1, 9.9, 0.0])
    v = np.array([4.9, 5.1, 0.0, -9.9])
    assert diamond.contains(u, v).tolist() == [True, False, True, True]
    ellipse = Shape("ellipse", 10.0, 5.0)
    assert ellipse.contains(np.array([9.9, 0.0, 7.0]), np.array([0.0, 4.9, 4.0])).tolist() == [
        True,
        True,
        False,
    ]
    rect = Shape("rounded_rect", 10.0, 5.0)  # fuller than the ellipse in the corners
    assert rect.contains(np.array([7.0]), np.array([4.0]))[0]


# ---------------------------------------------------------------- motion


def test_motion_respects_speed_bounds() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        motion = sample_motion(rng, (160, 160), 3.0, 3.0, (0.9, 1.1))
        poses = [pose_at(motion, t, 32) for t in np.arange(0, 31, 0.25)]
        centres = np.array([p.centre for p in poses])
        speed = np.linalg.norm(np.diff(centres, axis=0), axis=1) / 0.25
        assert speed.max() <= 3.0 + 1e-6
        spin = np.abs(np.diff([p.angle for p in poses])) / 0.25
        assert spin.max() <= math.radians(3.0) + 1e-9
        scales = [pose_at(motion, t, 32).scale for t in (0, 31)]
        assert all(0.9 <= s <= 1.1 for s in scales)
    still = sample_motion(rng, (64, 64), 0.0, 0.0, (1.0, 1.0))
    assert np.allclose(pose_at(still, 7, 10).centre, still.centre)


# ---------------------------------------------------------------- rendering and tracks


def test_deterministic_per_seed() -> None:
    a, b = generate_video(SMALL), generate_video(SMALL)
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    other = generate_video(dataclasses.replace(SMALL, seed=4))
    assert np.abs(a.frames.astype(int) - other.frames).mean() > 10
    assert SyntheticVideo(SyntheticVideoSpec(seed=(0, 1))).render(0).image.tobytes() != (
        SyntheticVideo(SyntheticVideoSpec(seed=(0, 2))).render(0).image.tobytes()
    )


def test_render_equals_generate_and_shapes() -> None:
    clip = generate_video(SMALL)
    n = (SMALL.num_objects + 1) * SMALL.points_per_object
    assert clip.frames.shape == (6, 64, 80, 3) and clip.frames.dtype == np.uint8
    assert clip.masks.shape == (6, 64, 80) and clip.masks.dtype == np.uint8
    assert clip.tracks.shape == (6, n, 2) and clip.tracks.dtype == np.float32
    assert clip.visible.shape == (6, n) and clip.visible.dtype == bool
    video = SyntheticVideo(SMALL)
    frame = video.render(4)  # rendered alone, no earlier frame
    np.testing.assert_array_equal(frame.image, clip.frames[4])
    np.testing.assert_array_equal(frame.mask, clip.masks[4])
    np.testing.assert_array_equal(video.tracks(4), clip.tracks[4])
    with pytest.raises(IndexError, match="num_frames"):
        video.render(6)


def test_track_points_keep_their_colour() -> None:
    spec = SyntheticVideoSpec(height=96, width=96, num_frames=12, num_objects=3, seed=11)
    video = SyntheticVideo(spec)
    clip = generate_video(spec)
    errors, shifted_errors = [], []
    for t in range(1, spec.num_frames):
        both = (
            clip.visible[0]
            & clip.visible[t]
            & _interior(clip.masks, video.track_ids, clip.tracks, t)
        )
        first = sample_frame(clip.frames[0], clip.tracks[0][both])
        now = sample_frame(clip.frames[t], clip.tracks[t][both])
        off = sample_frame(clip.frames[t], clip.tracks[t][both] + np.array([1.0, 0.0]))
        errors.append(np.abs(now - first).ravel())
        shifted_errors.append(np.abs(off - first).ravel())
    error, shifted = np.concatenate(errors), np.concatenate(shifted_errors)
    assert error.size > 200
    # Bilinear resampling of a smooth texture: a few grey levels, and far below a 1-px error.
    assert np.median(error) < 3.0
    assert np.mean(error) < 0.4 * np.mean(shifted)


def _interior(masks, track_ids, tracks, t) -> np.ndarray:
    """Points whose 2x2 neighbourhood at frames 0 and t shows their owner (no edge blending)."""
    keep = np.ones(len(track_ids), dtype=bool)
    for frame in (0, t):
        x0 = np.clip(np.floor(tracks[frame][:, 0]).astype(int), 0, masks.shape[2] - 2)
        y0 = np.clip(np.floor(tracks[frame][:, 1]).astype(int), 0, masks.shape[1] - 2)
        for dy in (0, 1):
            for dx in (0, 1):
                keep &= masks[frame][y0 + dy, x0 + dx] == track_ids
    return keep


def test_zero_motion_mask_is_the_shape() -> None:
    shape = Shape("ellipse", 20.0, 12.0)
    centre = (30.3, 33.6)
    video = make_video([make_object(shape, still_motion(centre), 1, np.zeros((1, 2)))])
    ys, xs = np.mgrid[0:64, 0:64]
    expected = ((xs - centre[0]) / 20.0) ** 2 + ((ys - centre[1]) / 12.0) ** 2 <= 1.0
    first = video.render(0)
    for t in range(5):
        frame = video.render(t)
        np.testing.assert_array_equal(frame.mask, expected.astype(np.uint8))
        np.testing.assert_array_equal(frame.image, first.image)
    np.testing.assert_allclose(video.tracks(3)[2], centre, atol=1e-4)  # the object's point


@pytest.mark.parametrize(
    ("kind", "area"),
    [
        ("ellipse", math.pi * 24 * 14),
        ("polygon", 6 / 2 * math.sin(2 * math.pi / 6) * 24 * 14),  # regular hexagon, stretched
        ("rounded_rect", 4 * 24 * 14 * math.gamma(1.2) ** 2 / math.gamma(1.4)),  # superellipse
    ],
)
def test_mask_area_matches_the_shape(kind: str, area: float) -> None:
    shape = Shape(kind, 24.0, 14.0, sides=6)
    video = make_video([make_object(shape, still_motion((32.0, 32.0)), 2, np.zeros((1, 2)))])
    assert (video.render(0).mask == 1).sum() == pytest.approx(area, rel=0.03)


def test_known_translation_is_recovered() -> None:
    shape = Shape("rounded_rect", 10.0, 8.0)
    points = np.array([[0.0, 0.0], [5.0, -3.0]])
    obj = make_object(shape, still_motion((20.0, 20.0), drift=(2.0, 1.0)), 3, points)
    video = make_video([obj], velocity=(1.0, 0.0))
    f0, f3 = video.render(0), video.render(3)
    np.testing.assert_allclose(
        video.tracks(3)[2:] - video.tracks(0)[2:], [[6, 3], [6, 3]], atol=1e-5
    )
    np.testing.assert_allclose(
        video.tracks(3)[:2] - video.tracks(0)[:2], [[3, 0], [3, 0]], atol=1e-5
    )
    # The object's pixels move by exactly (6, 3) and the background's by (3, 0).
    obj0 = f0.mask == 1
    np.testing.assert_array_equal(np.roll(obj0, (3, 6), axis=(0, 1)), f3.mask == 1)
    np.testing.assert_array_equal(
        np.roll(f0.image, (3, 6), axis=(0, 1))[f3.mask == 1], f3.image[f3.mask == 1]
    )
    background = (f3.mask == 0) & (np.roll(f0.mask, 3, axis=1) == 0)
    background[:, :3] = False
    np.testing.assert_array_equal(np.roll(f0.image, 3, axis=1)[background], f3.image[background])


def test_occluded_and_outside_points_are_invisible() -> None:
    big = make_object(
        Shape("ellipse", 20.0, 20.0),
        still_motion((32.0, 32.0)),
        4,
        np.array([[0.0, 0.0], [15.0, 0.0]]),
    )
    small = make_object(
        Shape("ellipse", 6.0, 6.0), still_motion((32.0, 32.0)), 5, np.array([[0.0, 0.0]])
    )
    runner = make_object(
        Shape("ellipse", 4.0, 4.0),
        still_motion((60.0, 10.0), drift=(3.0, 0.0)),
        6,
        np.array([[0.0, 0.0]]),
    )
    video = make_video([big, small, runner])
    # Points: background (10, 10) and (32, 32) [under objects], big centre [under small],
    # big edge, small centre, runner centre (leaves the frame after t = 1).
    assert video.visible(0).tolist() == [True, False, False, True, True, True]
    assert video.visible(2).tolist() == [True, False, False, True, True, False]
    assert video.render(0).mask[32, 32] == 2 and video.render(0).mask[32, 47] == 1
    assert video.track_ids.tolist() == [0, 0, 1, 1, 2, 3]


def test_default_masks_are_plausible() -> None:
    clip = generate_video(SyntheticVideoSpec(num_frames=4, seed=5))
    counts = np.stack([(clip.masks == i).sum(axis=(1, 2)) for i in range(4)])  # (4 ids, T)
    assert counts.sum(axis=0).tolist() == [160 * 160] * 4
    assert clip.masks.max() <= 3
    largest = (0.45 * 160 * 1.1) ** 2  # bounding square of the largest possible object
    assert (counts[1:] <= largest).all()
    assert (counts[0] > 0.3 * 160 * 160).all()
    assert clip.visible.mean() > 0.5


# ---------------------------------------------------------------- DAVIS-layout export


def test_write_synthetic_davis(tmp_path: Path) -> None:
    spec = SyntheticVideoSpec(height=48, width=64, num_frames=3, num_objects=2)
    names = write_synthetic_davis(tmp_path, 2, spec, seed=7, progress=False)
    assert (tmp_path / "ImageSets/2017/val.txt").read_text().split() == names
    video = SyntheticVideo(dataclasses.replace(spec, seed=(7, 1, 1)))
    annotation = Image.open(tmp_path / f"Annotations/480p/{names[1]}/00002.png")
    assert annotation.mode == "P" and annotation.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    np.testing.assert_array_equal(np.array(annotation), video.render(2).mask)
    jpeg = np.asarray(Image.open(tmp_path / f"JPEGImages/480p/{names[1]}/00002.jpg"), dtype=float)
    assert np.abs(jpeg - video.render(2).image).mean() < 4.0
    tracks = np.load(tmp_path / f"Tracks/{names[1]}.npz")
    np.testing.assert_array_equal(tracks["tracks"][2], video.tracks(2))
    np.testing.assert_array_equal(tracks["visible"][2], video.visible(2))


@pytest.mark.data
def test_palette_matches_real_davis_annotation() -> None:
    root = Path(os.environ.get("CYCLECORR_DATA", Path(__file__).parents[1] / "../shared/data"))
    annotation = root / "davis2017-mini/Annotations/480p/blackswan/00000.png"
    if not annotation.exists():
        pytest.skip(f"needs the DAVIS sample at {annotation} (set CYCLECORR_DATA)")
    assert Image.open(annotation).getpalette() == davis_palette()


def test_write_synthetic_sequence_with_mp4(tmp_path: Path) -> None:
    pytest.importorskip("cyclecorr.data.video_writer", reason="engineer A's video_writer.py")
    spec = SyntheticVideoSpec(height=48, width=64, num_frames=3, num_objects=1)
    paths = write_synthetic_sequence(spec, tmp_path, "clip", write_mp4=True)
    assert paths.video is not None and paths.video.stat().st_size > 0
    assert sorted(p.name for p in paths.frames_dir.iterdir()) == [f"{t:05d}.jpg" for t in range(3)]
    assert sorted(p.name for p in paths.masks_dir.iterdir()) == [f"{t:05d}.png" for t in range(3)]
