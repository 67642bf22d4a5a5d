"""Smooth closed-form object motion for generated video (translation, rotation, scale in t).

An object's pose at frame ``t`` maps its local coordinates ``q`` to frame pixels

    p = c(t) + s(t) R(a(t)) q,
    c(t) = c0 + d t + A * (sin(w t + phi) - sin(phi)),
    a(t) = a0 + spin t,
    s(t) = s0 (s1 / s0) ** (t / (T - 1)),

with ``R(a) = [[cos a, -sin a], [sin a, cos a]]`` in image axes (x right, y down). The
speed bound |dc/dt| <= |d| + w |A| is what ``sample_motion`` enforces. Every frame is computed
on its own, so a renderer never has to integrate over earlier frames.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Motion(NamedTuple):
    """Closed-form trajectory of an object (see the module docstring for the formulas).

    Attributes:
        centre: ``(2,)`` xy position at t = 0 (pixels).
        drift: ``(2,)`` constant velocity (pixels per frame).
        amplitude: ``(2,)`` oscillation amplitude per axis (pixels).
        omega: oscillation frequency (radians per frame).
        phase: ``(2,)`` oscillation phase per axis (radians).
        angle: rotation at t = 0 (radians).
        spin: rotation speed (radians per frame).
        scale_start: scale at t = 0.
        scale_end: scale at t = T - 1.
    """

    centre: np.ndarray
    drift: np.ndarray
    amplitude: np.ndarray
    omega: float
    phase: np.ndarray
    angle: float
    spin: float
    scale_start: float
    scale_end: float


class Pose(NamedTuple):
    """Object pose at one frame: ``p = centre + scale * R(angle) q``."""

    centre: np.ndarray
    angle: float
    scale: float


def pose_at(motion: Motion, t: float, num_frames: int) -> Pose:
    """Evaluate a ``Motion`` at frame ``t`` (any real t; frames are 0..num_frames-1)."""
    centre = (
        motion.centre
        + motion.drift * t
        + motion.amplitude * (np.sin(motion.omega * t + motion.phase) - np.sin(motion.phase))
    )
    progress = t / max(num_frames - 1, 1)
    scale = motion.scale_start * (motion.scale_end / motion.scale_start) ** progress
    return Pose(centre.astype(np.float64), motion.angle + motion.spin * t, float(scale))


def to_local(pose: Pose, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse pose: frame pixel coordinates -> object-local coordinates ``(u, v)``."""
    cos, sin = np.cos(pose.angle), np.sin(pose.angle)
    dx, dy = x - pose.centre[0], y - pose.centre[1]
    return (cos * dx + sin * dy) / pose.scale, (-sin * dx + cos * dy) / pose.scale


def to_frame(pose: Pose, points: np.ndarray) -> np.ndarray:
    """Forward pose: ``(P, 2)`` local points -> ``(P, 2)`` frame xy (float64)."""
    cos, sin = np.cos(pose.angle), np.sin(pose.angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return pose.centre + pose.scale * points @ rotation.T  # (P, 2)


def sample_motion(
    rng: np.random.Generator,
    frame_size: tuple[int, int],
    max_speed_px: float,
    max_rotation_deg: float,
    scale_range: tuple[float, float],
) -> Motion:
    """Draw a smooth trajectory whose translation speed never exceeds ``max_speed_px``.

    Args:
        rng: randomness source.
        frame_size: ``(width, height)`` of the frame in pixels; the start centre is drawn in
            the middle 70 % of it.
        max_speed_px: bound on the centre's speed (pixels per frame).
        max_rotation_deg: bound on the rotation speed (degrees per frame).
        scale_range: the scales at the first and last frames are drawn from this range.

    Returns:
        The ``Motion``; the oscillation period is 20-60 frames.
    """
    speed = rng.uniform(0.35, 1.0) * max_speed_px
    drift_share = rng.uniform(0.0, 0.4)
    heading = rng.uniform(0, 2 * np.pi)
    omega = 2 * np.pi / rng.uniform(20.0, 60.0)
    split = rng.uniform(0, np.pi / 2)
    # |velocity| <= |drift| + omega * |amplitude| = speed.
    amplitude = (1 - drift_share) * speed / omega * np.array([np.cos(split), np.sin(split)])
    scale_start, scale_end = rng.uniform(*scale_range, size=2)
    return Motion(
        centre=rng.uniform(0.15, 0.85, size=2) * np.asarray(frame_size, dtype=np.float64),
        drift=drift_share * speed * np.array([np.cos(heading), np.sin(heading)]),
        amplitude=amplitude,
        omega=float(omega),
        phase=rng.uniform(0, 2 * np.pi, size=2),
        angle=float(rng.uniform(0, 2 * np.pi)),
        spin=float(np.deg2rad(max_rotation_deg) * rng.uniform(-1.0, 1.0)),
        scale_start=float(scale_start),
        scale_end=float(scale_end),
    )
