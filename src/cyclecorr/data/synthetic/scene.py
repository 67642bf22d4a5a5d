"""Generated video with exact ground truth: a panning textured background and moving objects.

The scene is parametric, so any frame ``t`` renders on its own (a training clip needs only ~6
frames of a video). Object ``i`` (1-based; higher ids are nearer the camera and drawn on top)
has a textured silhouette in its local frame and a smooth closed-form pose
``p_frame = c(t) + s(t) R(a(t)) q_local`` (translation, rotation, scale; formulas in
``cyclecorr.data.synthetic.motion``), so the centre moves at most ``max_speed_px`` per frame.

Rendering is an inverse warp: each output pixel centre is mapped back with the inverse pose,
tested against the silhouette, and bilinearly samples the object texture; objects are
composited in depth order over a periodic background texture translated by ``v_bg t``.
Point tracks use the forward pose, so a track point always shows the same texture value.

Conventions: pixel coordinates ``(x, y)`` with ``x`` the 0-based column index of a pixel centre
(see ``cyclecorr.data.synthetic.textures``). A track point is visible when it lies inside
``[0, W-1] x [0, H-1]`` and no nearer object's silhouette covers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from cyclecorr.data.synthetic.motion import Motion, Pose, pose_at, sample_motion, to_frame, to_local
from cyclecorr.data.synthetic.textures import SHAPE_KINDS, Shape, bilinear_sample, random_texture


@dataclass(frozen=True)
class SyntheticVideoSpec:
    """Parameters of one generated video (all distances in pixels, angles in degrees).

    Attributes:
        height: frame rows.
        width: frame columns.
        num_frames: video length T.
        num_objects: foreground objects (<= 254), ids 1..num_objects in the masks.
        max_speed_px: bound on each object's translation speed (pixels per frame).
        max_rotation_deg: bound on each object's rotation speed (degrees per frame).
        scale_range: object scale at the first and last frames is drawn from this range.
        background_speed_px: camera pan speed (pixels per frame).
        object_size_range: object diameter as a fraction of the short side of the frame.
        points_per_object: track points per object and on the background.
        seed: scene seed (an int or a sequence of ints, as for ``np.random.default_rng``).
    """

    height: int = 160
    width: int = 160
    num_frames: int = 32
    num_objects: int = 3
    max_speed_px: float = 3.0
    max_rotation_deg: float = 3.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    background_speed_px: float = 1.0
    object_size_range: tuple[float, float] = (0.2, 0.45)
    points_per_object: int = 16
    seed: int | tuple[int, ...] = 0

    def __post_init__(self) -> None:
        problems = []
        if self.height < 8 or self.width < 8 or self.num_frames < 1:
            problems.append("height and width must be >= 8 and num_frames >= 1")
        if not 0 <= self.num_objects <= 254:
            problems.append("num_objects must be in [0, 254] (mask ids are uint8)")
        if min(self.scale_range) <= 0 or min(self.object_size_range) <= 0:
            problems.append("scale_range and object_size_range must be positive")
        if self.max_speed_px < 0 or self.background_speed_px < 0 or self.max_rotation_deg < 0:
            problems.append("speeds must be >= 0")
        if problems:
            raise ValueError(
                f"{__name__}: invalid SyntheticVideoSpec {self}: {'; '.join(problems)}"
            )


class SceneObject(NamedTuple):
    """One foreground object: silhouette, texture ``(h, w, 3)`` float32 centred on the local
    origin, motion, and ``(P, 2)`` track points in local coordinates (inside the silhouette)."""

    shape: Shape
    texture: np.ndarray
    motion: Motion
    points: np.ndarray


class Scene(NamedTuple):
    """Background texture ``(Hb, Wb, 3)`` float32 (periodic), its velocity ``(2,)`` px/frame,
    background track points ``(P, 2)`` xy at t = 0, and the objects, farthest first."""

    background: np.ndarray
    background_velocity: np.ndarray
    background_points: np.ndarray
    objects: tuple[SceneObject, ...]


class Frame(NamedTuple):
    """A rendered frame: ``image (H, W, 3)`` uint8 RGB, ``mask (H, W)`` uint8 object ids."""

    image: np.ndarray
    mask: np.ndarray


class SyntheticClip(NamedTuple):
    """A whole video: ``frames (T, H, W, 3)`` uint8, ``masks (T, H, W)`` uint8,
    ``tracks (T, N, 2)`` float32 xy, ``visible (T, N)`` bool."""

    frames: np.ndarray
    masks: np.ndarray
    tracks: np.ndarray
    visible: np.ndarray


def _sample_points(shape: Shape, count: int, rng: np.random.Generator) -> np.ndarray:
    """``(count, 2)`` local points uniformly inside the silhouette shrunk to 80 %."""
    shrink = 0.8
    points = np.zeros((0, 2))
    while len(points) < count:
        cand = rng.uniform(-1.0, 1.0, size=(4 * count + 8, 2))
        cand *= shrink * np.array([shape.half_width, shape.half_height])
        keep = shape.contains(cand[:, 0] / shrink, cand[:, 1] / shrink)
        points = np.concatenate([points, cand[keep]])
    return points[:count]


def _sample_object(spec: SyntheticVideoSpec, rng: np.random.Generator) -> SceneObject:
    diameter = rng.uniform(*spec.object_size_range) * min(spec.height, spec.width)
    half_width = diameter / 2
    shape = Shape(
        kind=str(rng.choice(SHAPE_KINDS)),
        half_width=float(half_width),
        half_height=float(half_width * rng.uniform(0.55, 1.0)),
        sides=int(rng.integers(4, 9)),
    )
    side = 2 * int(np.ceil(shape.radius)) + 3
    texture = random_texture(side, side, rng)
    points = _sample_points(shape, spec.points_per_object, rng)
    motion = sample_motion(
        rng,
        (spec.width, spec.height),
        spec.max_speed_px,
        spec.max_rotation_deg,
        spec.scale_range,
    )
    return SceneObject(shape, texture, motion, points)


def sample_scene(spec: SyntheticVideoSpec, rng: np.random.Generator) -> Scene:
    """Draw a random scene: background texture and pan, then ``spec.num_objects`` objects."""
    # Background tile 1.6x the frame (multiple of 32) so no repetition shows inside one frame.
    tile_h = 32 * int(np.ceil(1.6 * spec.height / 32))
    tile_w = 32 * int(np.ceil(1.6 * spec.width / 32))
    background = random_texture(tile_h, tile_w, rng)
    heading = rng.uniform(0, 2 * np.pi)
    velocity = spec.background_speed_px * np.array([np.cos(heading), np.sin(heading)])
    margin = np.array([2.0, 2.0])
    far = np.array([spec.width - 3.0, spec.height - 3.0])
    points = rng.uniform(margin, far, size=(spec.points_per_object, 2))
    objects = tuple(_sample_object(spec, rng) for _ in range(spec.num_objects))
    return Scene(background, velocity, points, objects)


class SyntheticVideo:
    """A generated video; any frame, mask and point track is computed on demand.

    Args:
        spec: video parameters.
        scene: an explicit scene; if None one is drawn from ``np.random.default_rng(spec.seed)``.

    Track points are ordered background first, then object 1, 2, ...; ``track_ids`` ``(N,)``
    uint8 gives each point's owner (0 = background).
    """

    def __init__(self, spec: SyntheticVideoSpec, scene: Scene | None = None) -> None:
        self.spec = spec
        self.scene = scene if scene is not None else sample_scene(spec, _rng(spec.seed))
        counts = [len(self.scene.background_points)] + [len(o.points) for o in self.scene.objects]
        self.track_ids = np.repeat(np.arange(len(counts), dtype=np.uint8), counts)
        # The periodic tile extended by one frame (+1 px) so any window is a plain slice.
        pad = ((0, spec.height + 1), (0, spec.width + 1), (0, 0))
        self._padded_tile = np.pad(self.scene.background.astype(np.float32), pad, mode="wrap")

    def __len__(self) -> int:
        return self.spec.num_frames

    def _check_frame(self, t: int) -> None:
        if not 0 <= t < self.spec.num_frames:
            raise IndexError(
                f"{__name__}: frame {t} requested but the video has frames 0.."
                f"{self.spec.num_frames - 1}; raise SyntheticVideoSpec.num_frames or ask less."
            )

    def pose(self, object_id: int, t: int) -> Pose:
        """Pose of object ``object_id`` (1-based) at frame ``t``."""
        motion = self.scene.objects[object_id - 1].motion
        return pose_at(motion, t, self.spec.num_frames)

    def render(self, t: int) -> Frame:
        """Render frame ``t`` alone: ``Frame(image (H, W, 3) uint8, mask (H, W) uint8)``."""
        self._check_frame(t)
        image = self._render_background(t)  # (H, W, 3) float32
        mask = np.zeros((self.spec.height, self.spec.width), dtype=np.uint8)
        for object_id in range(1, len(self.scene.objects) + 1):
            self._draw_object(object_id, t, image, mask)
        return Frame(np.rint(image).astype(np.uint8), mask)

    def _render_background(self, t: int) -> np.ndarray:
        """The background translated by ``velocity * t``: one fractional shift of the tile."""
        tile_h, tile_w = self.scene.background.shape[:2]
        # Pixel x shows tile coordinate x - vx t = x + ix + fx, with integer ix and fx in [0, 1).
        shift = -self.scene.background_velocity * t
        ix, iy = int(np.floor(shift[0])), int(np.floor(shift[1]))
        fx, fy = np.float32(shift[0] - ix), np.float32(shift[1] - iy)
        y0, x0 = iy % tile_h, ix % tile_w
        window = self._padded_tile[y0 : y0 + self.spec.height + 1, x0 : x0 + self.spec.width + 1]
        rows = window[:, :-1] + fx * (window[:, 1:] - window[:, :-1])  # (H+1, W, 3)
        return rows[:-1] + fy * (rows[1:] - rows[:-1])  # (H, W, 3) float32

    def _draw_object(self, object_id: int, t: int, image: np.ndarray, mask: np.ndarray) -> None:
        """Paint one object over ``image`` and ``mask`` in place (inverse warp, bounding box)."""
        obj = self.scene.objects[object_id - 1]
        pose = self.pose(object_id, t)
        reach = pose.scale * obj.shape.radius + 1.0
        x_lo, y_lo = np.maximum(np.floor(pose.centre - reach), 0).astype(int)
        x_hi = min(int(np.ceil(pose.centre[0] + reach)), self.spec.width - 1)
        y_hi = min(int(np.ceil(pose.centre[1] + reach)), self.spec.height - 1)
        if x_lo > x_hi or y_lo > y_hi:
            return
        ys, xs = np.mgrid[y_lo : y_hi + 1, x_lo : x_hi + 1]  # (h, w) each
        u, v = to_local(pose, xs.astype(np.float64), ys.astype(np.float64))
        inside = obj.shape.contains(u, v)  # (h, w)
        centre = (np.array(obj.texture.shape[1::-1]) - 1) / 2.0  # texture xy of the local origin
        colour = bilinear_sample(obj.texture, u[inside] + centre[0], v[inside] + centre[1], False)
        image[ys[inside], xs[inside]] = colour
        mask[ys[inside], xs[inside]] = object_id

    def tracks(self, t: int) -> np.ndarray:
        """``(N, 2)`` float32 xy of every track point at frame ``t`` (pixel-centre convention)."""
        self._check_frame(t)
        parts = [self.scene.background_points + self.scene.background_velocity * t]
        parts += [to_frame(self.pose(i + 1, t), o.points) for i, o in enumerate(self.scene.objects)]
        return np.concatenate(parts).astype(np.float32)  # (N, 2)

    def visible(self, t: int) -> np.ndarray:
        """``(N,)`` bool: the point is inside the frame and not covered by a nearer object."""
        points = self.tracks(t).astype(np.float64)  # (N, 2)
        x, y = points[:, 0], points[:, 1]
        visible = (x >= 0) & (x <= self.spec.width - 1) & (y >= 0) & (y <= self.spec.height - 1)
        for object_id, obj in enumerate(self.scene.objects, start=1):
            u, v = to_local(self.pose(object_id, t), x, y)
            visible &= ~(obj.shape.contains(u, v) & (self.track_ids < object_id))
        return visible


def _rng(seed: int | Sequence[int]) -> np.random.Generator:
    return np.random.default_rng(list(seed) if isinstance(seed, Sequence) else seed)


def generate_video(spec: SyntheticVideoSpec) -> SyntheticClip:
    """Render every frame, mask and track of the video described by ``spec``."""
    video = SyntheticVideo(spec)
    rendered = [video.render(t) for t in range(spec.num_frames)]
    return SyntheticClip(
        frames=np.stack([f.image for f in rendered]),  # (T, H, W, 3)
        masks=np.stack([f.mask for f in rendered]),  # (T, H, W)
        tracks=np.stack([video.tracks(t) for t in range(spec.num_frames)]),  # (T, N, 2)
        visible=np.stack([video.visible(t) for t in range(spec.num_frames)]),  # (T, N)
    )
