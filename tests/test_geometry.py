"""Golden tests for the affine patch geometry (cyclecorr.ops.geometry)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cyclecorr.ops.geometry import (
    cell_centers,
    compose,
    grid_points,
    identity_theta,
    invert,
    theta_from_params,
    theta_to_box_corners,
    transform_points,
)

THIRD = 1.0 / 3.0


def test_zero_params_give_centred_unrotated_patch() -> None:
    theta = theta_from_params(torch.zeros(2, 3))
    expected = torch.tensor([[THIRD, 0.0, 0.0], [0.0, THIRD, 0.0]]).expand(2, 2, 3)
    assert theta.shape == (2, 2, 3)
    assert torch.allclose(theta, expected)
    assert torch.allclose(identity_theta(2), expected)


def test_params_hand_computed() -> None:
    a = math.radians(30)
    theta = theta_from_params(torch.tensor([[0.2, -0.1, a]]), scale=0.5)
    c, s = math.cos(a) * 0.5, math.sin(a) * 0.5
    expected = torch.tensor([[[c, -s, 0.2], [s, c, -0.1]]])
    assert torch.allclose(theta, expected, atol=1e-6)


def test_params_bad_shape_raises() -> None:
    with pytest.raises(ValueError, match="geometry.*\\(B, 3\\)"):
        theta_from_params(torch.zeros(2, 2))


def test_grid_points_order_and_span() -> None:
    pts = grid_points(20)
    assert pts.shape == (400, 2)
    assert torch.equal(pts[0], torch.tensor([-1.0, -1.0]))
    assert torch.equal(pts[-1], torch.tensor([1.0, 1.0]))
    assert torch.allclose(pts[1], torch.tensor([-1.0 + 2 / 19, -1.0]))  # x varies fastest
    with pytest.raises(ValueError, match="n >= 2"):
        grid_points(1)


def test_cell_centers_align_corners_false() -> None:
    centers = cell_centers(2, 4)
    assert centers.shape == (8, 2)
    # entry v * W + u = ((2u + 1) / W - 1, (2v + 1) / H - 1)
    assert torch.allclose(centers[0], torch.tensor([-0.75, -0.5]))
    assert torch.allclose(centers[6], torch.tensor([0.25, 0.5]))  # u=2, v=1


def test_transform_points_matches_affine_grid() -> None:
    """Our point mapping is exactly what affine_grid samples (align_corners=False)."""
    theta = theta_from_params(torch.tensor([[0.3, -0.2, 0.7], [-0.1, 0.4, -1.2]]))
    grid = F.affine_grid(theta, [2, 1, 5, 5], align_corners=False)  # (2, 5, 5, 2)
    mapped = transform_points(theta, cell_centers(5, 5))  # (2, 25, 2)
    assert torch.allclose(mapped, grid.reshape(2, 25, 2), atol=1e-6)


def test_rotation_direction() -> None:
    # +90 degrees sends the patch's +x axis to the frame's +y axis (down on screen)
    theta = theta_from_params(torch.tensor([[0.0, 0.0, math.pi / 2]]), scale=1.0)
    out = transform_points(theta, torch.tensor([[1.0, 0.0]]))
    assert torch.allclose(out, torch.tensor([[[0.0, 1.0]]]), atol=1e-6)


def test_invert_and_compose() -> None:
    theta = theta_from_params(torch.tensor([[0.3, -0.2, 0.7]]))
    ident = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    assert torch.allclose(compose(invert(theta), theta), ident, atol=1e-5)
    assert torch.allclose(compose(theta, invert(theta)), ident, atol=1e-5)
    # compose(outer, inner) applies inner first: a shift by (1, 0) then a scale by 2 -> x = 2p + 2
    shift = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    scale = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]])
    out = transform_points(compose(scale, shift), torch.tensor([[0.5, 0.5]]))
    assert torch.allclose(out, torch.tensor([[[3.0, 1.0]]]))


def test_box_corners_of_centred_patch() -> None:
    corners = theta_to_box_corners(identity_theta(1))
    expected = torch.tensor([[[-1, -1], [1, -1], [1, 1], [-1, 1]]], dtype=torch.float32) / 3
    assert corners.shape == (1, 4, 2)
    assert torch.allclose(corners, expected)


def test_invert_accepts_half_precision_and_answers_in_float32() -> None:
    theta = theta_from_params(torch.tensor([[0.2, -0.1, 0.5]]))
    inv = invert(theta.bfloat16())
    assert inv.dtype == torch.float32
    torch.testing.assert_close(inv, invert(theta.bfloat16().float()))
