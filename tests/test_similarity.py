"""Golden tests for the similarity losses: the release's normalised inlier count and the dot form.

The inlier score is checked on hand-made affinities of a 30x30 frame / 10x10 patch (the release's
sizes) against hand-computed values, for gradients, for a known rotation and translation, and
against a direct, slow re-implementation of the release's recipe (an explicit 900-channel one-hot
image warped with a linspace grid, the 227/210 quirk and ``align_corners=True``).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from cyclecorr.losses.similarity import inlier_score, similarity_dot, similarity_loss
from cyclecorr.ops.affinity import l2_normalize
from cyclecorr.ops.geometry import cell_centers, identity_theta, theta_from_params, transform_points

FRAME = (30, 30)
FULL = 100 + 1e-5 * 900 * 100  # normaliser of a patch fully inside the frame: 100.9


def one_hot_affinity(cells: Tensor) -> Tensor:
    """``(1, 900, 100)`` affinity whose column j is 1 at row-major frame cell ``cells[j]``."""
    aff = torch.zeros(1, 900, 100)
    aff[0, cells, torch.arange(100)] = 1.0
    return aff


def cells_of(theta: Tensor) -> Tensor:
    """Row-major frame cells of the patch cell centres placed by ``theta (1, 2, 3)``, rounded
    to the nearest cell (align_corners=False: pixel coordinate ``((x + 1) W - 1) / 2``)."""
    points = transform_points(theta, cell_centers(10, 10))[0]  # (100, 2)
    col_row = ((points + 1) * 30 - 1) / 2  # (100, 2) fractional (col, row)
    col_row = col_row.round().long().clamp(0, 29)
    return col_row[:, 1] * 30 + col_row[:, 0]


def score(aff: Tensor, theta: Tensor) -> float:
    return inlier_score(aff, theta, FRAME).item()


# ------------------------------------------------------------ hand-made
def test_golden_values_of_the_centred_patch() -> None:
    theta = identity_theta(1)
    u = torch.arange(100) % 10
    v = torch.arange(100) // 10
    correct = one_hot_affinity((v + 10) * 30 + (u + 10))  # patch cell (v, u) -> frame (v+10, u+10)
    assert score(correct, theta) == pytest.approx(100 / FULL, rel=1e-6)  # 0.991
    collapsed = one_hot_affinity(torch.full((100,), 15 * 30 + 15))  # every cell on the box centre
    assert score(collapsed, theta) == pytest.approx(1 / FULL, rel=1e-5)  # 0.0099
    box = ((v + 10) * 30 + (u + 10)).tolist()
    spread = torch.zeros(1, 900, 100)
    spread[0, box] = 1 / 100  # every column uniform over the box's 100 cells
    assert score(spread, theta) == pytest.approx(1 / FULL, rel=1e-5)
    assert score(correct, theta) > 90 * score(spread, theta)  # correspondence, not box mass


def test_normaliser_sums_over_the_whole_map() -> None:
    """Centre on the left edge: patch columns 5-9 land on frame columns 0-4, columns 0-4 fully
    outside. The normaliser counts only in-bounds weight: 50 + 0.9, not 100 + 0.9."""
    theta = theta_from_params(torch.tensor([[-1.0, 0.0, 0.0]]))
    u = torch.arange(100) % 10
    v = torch.arange(100) // 10
    cells = (v + 10) * 30 + (u - 5).clamp(min=0)
    assert score(one_hot_affinity(cells), theta) == pytest.approx(50 / (50 + 0.9), rel=1e-5)
    far = theta_from_params(torch.tensor([[3.0, 0.0, 0.0]]))  # entirely outside: nothing counts
    assert score(one_hot_affinity(cells), far) == 0.0


def test_differentiable_in_affinity_and_theta() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(2, 3, 900, 100, generator=gen) * 4).requires_grad_(True)
    params = torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.4, -0.5], [-0.3, 0.1, 0.9]] * 2)
    params.requires_grad_(True)
    theta = theta_from_params(params).reshape(2, 3, 2, 3)
    values = inlier_score(torch.softmax(logits, dim=2), theta, FRAME)
    assert values.shape == (2, 3)
    values.sum().backward()
    for grad in (logits.grad, params.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert (params.grad[:, :2].abs() > 0).all()  # translation moves the mask


def test_known_rotation_and_translation_on_cell_centres() -> None:
    """90 degrees and whole-cell shifts keep patch cell centres on frame cell centres."""
    true = theta_from_params(torch.tensor([[4 / 30, -6 / 30, math.pi / 2]]))  # 2 cells, -3 cells
    aff = one_hot_affinity(cells_of(true))
    assert score(aff, true) == pytest.approx(100 / FULL, rel=1e-5)
    half_cell = true.clone()
    half_cell[0, 0, 2] += 1 / 30
    one_cell = true.clone()
    one_cell[0, 0, 2] += 2 / 30
    unrotated = theta_from_params(torch.tensor([[4 / 30, -6 / 30, 0.0]]))
    assert score(aff, half_cell) == pytest.approx(50 / FULL, rel=1e-4)
    assert score(aff, one_cell) < 1e-6 and score(aff, unrotated) < 1e-6


def test_true_theta_wins_for_a_generic_rotation() -> None:
    true = theta_from_params(torch.tensor([[0.2, 0.1, 0.5]]))
    aff = one_hot_affinity(cells_of(true))  # nearest-cell correspondences
    best = score(aff, true)
    assert best > 0.5
    for delta in ([0.0, 0.0, 0.15], [0.0, 0.0, -0.15], [2 / 30, 0.0, 0.0], [0.0, -2 / 30, 0.0]):
        wrong = theta_from_params(torch.tensor([[0.2, 0.1, 0.5]]) + torch.tensor([delta]))
        assert score(aff, wrong) < best - 0.1


# ------------------------------------------------------ the release recipe
def release_recipe(aff: Tensor, theta: Tensor) -> Tensor:
    """The release's normalised inlier count, written out slowly: frame cells column-major
    (``x * 30 + y``) in a 900-channel one-hot image and in the affinity; a linspace grid divided
    by 227/210, theta applied, times 227/210; grid_sample with align_corners=True; the warped
    map divided by its total plus 1e-5 per entry; times the affinity, summed."""
    n, offset = aff.shape[0], 227 / 210
    matches = aff.reshape(n, 30, 30, 10, 10).transpose(1, 2).reshape(n, 900, 10, 10)  # x*30+y
    eye = torch.zeros(900, 30, 30, dtype=aff.dtype)
    for x in range(30):
        for y in range(30):
            eye[x * 30 + y, y, x] = 1.0
    axis = torch.linspace(-1, 1, 10, dtype=aff.dtype)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")  # (10, 10) each
    gx, gy = gx / offset, gy / offset
    t = theta[:, :, :, None, None]  # (N, 2, 3, 1, 1)
    xp = t[:, 0, 0] * gx + t[:, 0, 1] * gy + t[:, 0, 2]  # (N, 10, 10)
    yp = t[:, 1, 0] * gx + t[:, 1, 1] * gy + t[:, 1, 2]
    grid = torch.stack([xp, yp], dim=-1) * offset  # (N, 10, 10, 2)
    mask = F.grid_sample(
        eye.expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )  # (N, 900, 10, 10)
    mask = mask / (mask + 1e-5).sum(dim=(1, 2, 3), keepdim=True)
    return (mask * matches).sum(dim=(1, 2, 3))


def test_equals_the_release_recipe_with_align_corners_and_quirk() -> None:
    gen = torch.Generator().manual_seed(3)
    n = 6
    params = torch.cat(
        [
            torch.rand(n, 2, generator=gen) * 1.6 - 0.8,  # some patches reach outside the frame
            (torch.rand(n, 1, generator=gen) - 0.5) * math.pi / 2,
        ],
        dim=1,
    )
    theta = theta_from_params(params)
    # half the mass random, half on the (nearest) cells theta points at: scores of ~0.1-0.5
    noise = torch.softmax(torch.randn(n, 900, 100, generator=gen) * 6, dim=1)
    near = torch.cat([one_hot_affinity(cells_of(theta[i : i + 1])) for i in range(n)])
    aff = 0.5 * noise + 0.5 * near
    expected = release_recipe(aff.double(), theta.double()).float()
    ours = inlier_score(aff, theta, FRAME, align_corners=True, translation_quirk=True)
    assert torch.allclose(ours, expected, rtol=1e-4, atol=1e-7)
    # the flags matter: our default convention is a different score on the same inputs
    default = inlier_score(aff, theta, FRAME)
    assert not torch.allclose(default, expected, rtol=1e-2)


# ------------------------------------------------------------ the loss
def test_similarity_dot() -> None:
    query = l2_normalize(torch.randn(2, 8, 3, 3))
    crops = torch.stack([query, -query], dim=1)  # (B, 2, C, h, w)
    assert torch.allclose(similarity_dot(query, crops), torch.tensor([[1.0, -1.0]] * 2))


def test_similarity_loss_is_minus_the_batch_mean_per_hop() -> None:
    gen = torch.Generator().manual_seed(1)
    aff = torch.softmax(torch.randn(2, 3, 900, 100, generator=gen) * 5, dim=2)
    thetas = theta_from_params(torch.randn(6, 3, generator=gen) * 0.3).reshape(2, 3, 2, 3)
    query = l2_normalize(torch.randn(2, 8, 10, 10, generator=gen))
    crops = l2_normalize(torch.randn(2, 3, 8, 10, 10, generator=gen), dim=2)
    loss = similarity_loss("inlier", query, crops, aff, thetas, FRAME, True, True)
    expected = -inlier_score(aff, thetas, FRAME, True, True).mean(dim=0)
    assert loss.shape == (3,) and torch.allclose(loss, expected)
    dot = similarity_loss("dot", query, crops, aff, thetas, FRAME)
    assert torch.allclose(dot, -similarity_dot(query, crops).mean(dim=0))
    with pytest.raises(ValueError, match="unknown similarity form 'box'"):
        similarity_loss("box", query, crops, aff, thetas, FRAME)


def test_shape_errors_name_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 900, h\*w\)"):
        inlier_score(torch.zeros(1, 800, 100), identity_theta(1), FRAME)
    with pytest.raises(ValueError, match="theta"):
        inlier_score(torch.zeros(2, 900, 100), identity_theta(1), FRAME)
