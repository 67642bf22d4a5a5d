"""Golden tests for the tracker: localizer, sampler, and known motion recovered.

Motion recovery uses frame features with a distinct random vector per cell and a query cropped
from them at a known ``theta``, so the only way to answer is correct geometry. Two readouts:

- ``ProcrustesLocalizer`` (closed form, no training) swapped into a real ``Tracker``: this checks
  the affinity layout, the coordinate conventions of ``theta`` and the sampler end to end, with
  tight tolerances (well under one feature cell and one degree).
- the learned ``Localizer`` fitted for a few hundred steps on random placements at tiny sizes:
  this checks that the head can learn the readout at all (a weaker, statistical claim: mean
  errors under half a cell and 6 degrees, several times better than before training).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cyclecorr.models.feature_sampler import crop_features
from cyclecorr.models.localizer import Localizer, ProcrustesLocalizer, default_kernel_size
from cyclecorr.models.tracker import Tracker, track_hops
from cyclecorr.ops.affinity import affinity, l2_normalize
from cyclecorr.ops.crop import QUIRK_TRANSLATION_SCALE
from cyclecorr.ops.geometry import identity_theta, theta_from_params

pytestmark = pytest.mark.usefixtures("one_thread")


def angle_of(theta: torch.Tensor) -> torch.Tensor:
    """Rotation angle (radians) of fixed-scale thetas ``(B, 2, 3)``."""
    return torch.atan2(theta[:, 1, 0], theta[:, 0, 0])


# ---------------------------------------------------------------- sampler
def test_identity_crop_copies_the_central_block() -> None:
    """align_corners=False: patch cell centres land on frame cell centres at scale 1/3."""
    frame = torch.randn(2, 8, 30, 30, generator=torch.Generator().manual_seed(0))
    crop = crop_features(frame, identity_theta(2), (10, 10))
    assert crop.shape == (2, 8, 10, 10)
    assert torch.allclose(crop, l2_normalize(frame[:, :, 10:20, 10:20]), atol=1e-6)
    blurred = crop_features(frame, identity_theta(2), (10, 10), align_corners=True)
    assert not torch.allclose(blurred, crop, atol=1e-2)


def test_crop_is_unit_norm_and_quirk_scales_translation() -> None:
    frame = torch.randn(1, 8, 30, 30, generator=torch.Generator().manual_seed(1))
    theta = theta_from_params(torch.tensor([[0.2, -0.3, 0.4]]))
    crop = crop_features(frame, theta, (10, 10), translation_quirk=True)
    assert torch.allclose(crop.norm(dim=1), torch.ones(1, 10, 10), atol=1e-5)
    shifted = theta.clone()
    shifted[:, :, 2] *= QUIRK_TRANSLATION_SCALE
    assert torch.allclose(crop, crop_features(frame, shifted, (10, 10)), atol=1e-6)
    with pytest.raises(ValueError, match="sampler"):
        crop_features(frame, theta[0], (10, 10))


# -------------------------------------------------------------- localizer
def test_localizer_shapes_and_centred_first_guess() -> None:
    torch.manual_seed(0)
    loc = Localizer(frame_cells=900, patch_cells=10, kernel_size=4)
    assert loc.head.in_features == 1024  # 64 x 4 x 4, as in METHOD.md
    aff = torch.softmax(torch.randn(3, 900, 100), dim=1)
    params = loc(aff)
    assert params.shape == (3, 3)
    assert params.abs().max() < 0.02  # N(0, 0.01) head, zero bias: centred, unrotated
    assert torch.all(loc.head.bias == 0)


def test_localizer_rejects_too_small_grid() -> None:
    with pytest.raises(ValueError, match="too small.*kernel_size=4.*e.g. 3 for a 6x6"):
        Localizer(frame_cells=324, patch_cells=6, kernel_size=4)
    assert Localizer(frame_cells=324, patch_cells=6, kernel_size=3).head.in_features == 64 * 4
    # the kernel follows the grid: the release's 4 at 10x10, and what the CPU configs used
    assert [default_kernel_size(n) for n in (10, 6, 4, 3, 12)] == [4, 3, 2, 2, 5]
    assert Localizer(frame_cells=900, patch_cells=10).head.in_features == 64 * 4 * 4
    with pytest.raises(ValueError, match="expected an affinity"):
        Localizer(frame_cells=81, patch_cells=3, kernel_size=2)(torch.zeros(1, 80, 9))


def test_localizer_release_options_bias_and_kaiming_fan_out() -> None:
    """The release: no conv bias, kaiming_normal_(fan_out, relu) on both convs; head unchanged."""
    torch.manual_seed(0)
    plain = Localizer(frame_cells=900, patch_cells=10, kernel_size=4)
    release = Localizer(
        frame_cells=900, patch_cells=10, kernel_size=4, bias=False, init="kaiming_fan_out"
    )
    first, second = release.convs[0], release.convs[2]
    assert first.bias is None and second.bias is None
    assert not any(key.endswith("convs.0.bias") for key in release.state_dict())
    assert plain.convs[0].bias is not None
    # fan_out = out_channels * k * k: std sqrt(2 / (128 * 16)) and sqrt(2 / (64 * 16))
    assert first.weight.std().item() == pytest.approx(math.sqrt(2 / 2048), rel=0.02)
    assert second.weight.std().item() == pytest.approx(math.sqrt(2 / 1024), rel=0.02)
    # PyTorch's default (Kaiming-uniform, a = sqrt(5), fan_in): std 1 / sqrt(3 * 900 * 16)
    assert plain.convs[0].weight.std().item() == pytest.approx(1 / math.sqrt(3 * 14400), rel=0.02)
    for loc in (plain, release):
        assert loc.head.weight.std().item() == pytest.approx(0.01, rel=0.1)
        assert torch.all(loc.head.bias == 0)
    with pytest.raises(ValueError, match="unknown conv init 'xavier'"):
        Localizer(frame_cells=81, patch_cells=3, kernel_size=2, init="xavier")


# ---------------------------------------------------------------- tracker
def test_tracker_shapes_and_size_errors() -> None:
    tracker = Tracker(channels=16, patch_cells=3, frame_hw=(9, 9), kernel_size=2)
    frame = torch.randn(2, 16, 9, 9)
    query = l2_normalize(torch.randn(2, 16, 3, 3))
    step = tracker(frame, query)
    assert step.theta.shape == (2, 2, 3)
    assert step.crop.shape == (2, 16, 3, 3)
    assert step.affinity.shape == (2, 81, 9)
    assert torch.allclose(step.crop.norm(dim=1), torch.ones(2, 3, 3), atol=1e-5)
    with pytest.raises(ValueError, match="frame_hw"):
        tracker(torch.randn(2, 16, 10, 10), query)
    with pytest.raises(ValueError, match="patch_cells"):
        tracker(frame, l2_normalize(torch.randn(2, 16, 4, 4)))


def test_tracker_passes_the_localizer_options() -> None:
    tracker = Tracker(
        channels=8,
        patch_cells=3,
        frame_hw=(9, 9),
        kernel_size=2,
        localizer_bias=False,
        localizer_init="kaiming_fan_out",
    )
    convs = tracker.localizer.convs
    assert convs[0].bias is None and convs[2].bias is None
    assert convs[0].weight.std().item() == pytest.approx(math.sqrt(2 / (128 * 4)), rel=0.05)
    assert (
        Tracker(channels=8, patch_cells=3, frame_hw=(9, 9), kernel_size=2).localizer.convs[0].bias
        is not None
    )


def test_track_hops_equals_separate_calls() -> None:
    torch.manual_seed(0)
    tracker = Tracker(channels=8, patch_cells=3, frame_hw=(9, 9), kernel_size=2)
    frames = torch.randn(2, 3, 8, 9, 9)
    queries = l2_normalize(torch.randn(2, 3, 8, 3, 3), dim=2)
    hops = track_hops(tracker, frames, queries)
    assert hops.theta.shape == (2, 3, 2, 3) and hops.affinity.shape == (2, 3, 81, 9)
    single = tracker(frames[:, 1], queries[:, 1])
    assert torch.allclose(hops.theta[:, 1], single.theta, atol=1e-6)
    assert torch.allclose(hops.crop[:, 1], single.crop, atol=1e-6)


KNOWN_MOTIONS = [
    (4 * 2 / 30, -3 * 2 / 30, 0.0),  # a shift by whole cells
    (0.13, -0.21, 0.0),  # a sub-cell shift
    (0.0, 0.0, math.radians(25)),  # a pure rotation
    (-0.2, 0.1, math.radians(-40)),  # both
]


@pytest.mark.parametrize(("tx", "ty", "angle"), KNOWN_MOTIONS)
def test_tracker_recovers_known_motion(tx: float, ty: float, angle: float) -> None:
    gen = torch.Generator().manual_seed(0)
    frame = torch.randn(2, 64, 30, 30, generator=gen)  # a distinct random vector per cell
    theta_true = theta_from_params(torch.tensor([[tx, ty, angle]]).expand(2, 3))
    query = crop_features(frame, theta_true, (10, 10))
    tracker = Tracker(channels=64)  # release sizes and temperature
    tracker.localizer = ProcrustesLocalizer(frame_hw=(30, 30), patch_cells=10)
    step = tracker(frame, query)
    cell = 2 / 30  # one frame feature cell in normalised units
    shift_err = (step.theta[:, :, 2] - theta_true[:, :, 2]).norm(dim=1)
    assert shift_err.max() < 0.25 * cell
    assert (angle_of(step.theta) - angle).abs().max() < math.radians(1.0)
    assert (step.crop * query).sum(dim=1).mean() > 0.95  # it crops what it was asked to find


def test_procrustes_readout_fails_on_unrelated_frames() -> None:
    """The recovery above is not a tautology: an unrelated frame gives a wrong answer."""
    gen = torch.Generator().manual_seed(0)
    frame = torch.randn(1, 64, 30, 30, generator=gen)
    theta_true = theta_from_params(torch.tensor([[0.3, -0.3, 0.5]]))
    query = crop_features(frame, theta_true, (10, 10))
    tracker = Tracker(channels=64)
    tracker.localizer = ProcrustesLocalizer(frame_hw=(30, 30), patch_cells=10)
    step = tracker(torch.randn(1, 64, 30, 30, generator=gen), query)
    assert (step.theta[:, :, 2] - theta_true[:, :, 2]).norm() > 0.1


def random_placements(
    n: int, frame_side: int, channels: int, patch: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random frames, placements (|t| <= 0.5, |angle| <= 30 deg) and the queries cut there."""
    frames = torch.randn(n, channels, frame_side, frame_side, generator=gen)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * 0.5
    angle = (torch.rand(n, 1, generator=gen) * 2 - 1) * math.radians(30)
    params = torch.cat([shift, angle], dim=1)  # (n, 3)
    return frames, crop_features(frames, theta_from_params(params), (patch, patch)), params


def placement_errors(tracker: Tracker, gen: torch.Generator) -> tuple[float, float]:
    """Mean translation error (frame cells) and mean angle error (degrees) on fresh samples."""
    frames, queries, params = random_placements(256, 12, 32, 4, gen)
    with torch.no_grad():
        theta = tracker(frames, queries).theta
    cells = (theta[:, :, 2] - params[:, :2]).norm(dim=1).mean() * 12 / 2
    degrees = (angle_of(theta) - params[:, 2]).abs().mean() * 180 / math.pi
    return float(cells), float(degrees)


def test_learned_localizer_fits_random_placements() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    tracker = Tracker(channels=32, patch_cells=4, frame_hw=(12, 12), kernel_size=2)
    before = placement_errors(tracker, torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(tracker.parameters(), lr=3e-3)
    for _ in range(400):
        frames, queries, params = random_placements(32, 12, 32, 4, gen)
        aff = affinity(queries, F.normalize(frames, dim=1), tracker.tau)
        loss = (tracker.localizer(aff) - params).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    cells, degrees = placement_errors(tracker, torch.Generator().manual_seed(1))
    assert cells < 0.5 and degrees < 6.0
    assert cells < before[0] / 3 and degrees < before[1] / 2


# ---------------------------------------------------------- readout init


@pytest.mark.parametrize(("tx", "ty", "angle"), KNOWN_MOTIONS)
def test_readout_init_recovers_known_motion_untrained(tx: float, ty: float, angle: float) -> None:
    """``localizer_readout_init=True``: the untrained learned localizer already tracks.

    Same setting as ``test_tracker_recovers_known_motion`` (release sizes), with the learned
    ``Localizer`` instead of the closed-form one. The readout is a window-smoothed, small-angle
    version of Procrustes, so the tolerances are looser: half a cell, and 4.5 degrees (it reads
    ``sin(angle)`` as the angle: 3.2 degrees short at 40 degrees).
    """
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    frame = torch.randn(2, 64, 30, 30, generator=gen)
    theta_true = theta_from_params(torch.tensor([[tx, ty, angle]]).expand(2, 3))
    query = crop_features(frame, theta_true, (10, 10))
    tracker = Tracker(channels=64, localizer_readout_init=True)
    step = tracker(frame, query)
    cell = 2 / 30
    assert (step.theta[:, :, 2] - theta_true[:, :, 2]).norm(dim=1).max() < 0.5 * cell
    assert (angle_of(step.theta) - angle).abs().max() < math.radians(4.5)


def test_readout_init_is_off_by_default_and_keeps_other_channels_random() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    frame = torch.randn(1, 64, 30, 30, generator=gen)
    theta_true = theta_from_params(torch.tensor([[0.3, -0.2, 0.3]]))
    query = crop_features(frame, theta_true, (10, 10))
    default = Tracker(channels=64)
    assert (default(frame, query).theta[:, :, 2]).norm() < 0.05  # centred first guess
    readout = Tracker(channels=64, localizer_readout_init=True).localizer
    first, second = readout.convs[0], readout.convs[2]
    assert first.weight[4:].std() > 0 and second.weight[4:].std() > 0
    assert torch.count_nonzero(second.weight[:4, 4:]) == 0  # the readout is not mixed
    assert readout.head.weight[:, 4 * 16 :].std().item() == pytest.approx(0.01, rel=0.1)


@pytest.mark.parametrize(("patch_cells", "frame_side"), [(6, 18), (3, 9)])
def test_readout_init_small_grids(patch_cells: int, frame_side: int) -> None:
    """The CPU experiments' grids: 6x6 (k=3, 2x2 final grid) and 3x3 (k=2, 1x1: no angle)."""
    gen = torch.Generator().manual_seed(0)
    frame = torch.randn(1, 64, frame_side, frame_side, generator=gen)
    theta_true = theta_from_params(torch.tensor([[0.25, -0.15, 0.0]]))
    query = crop_features(frame, theta_true, (patch_cells, patch_cells))
    torch.manual_seed(0)
    step = Tracker(
        channels=64,
        patch_cells=patch_cells,
        frame_hw=(frame_side, frame_side),
        tau=0.01,
        localizer_readout_init=True,
    )(frame, query)
    cell = 2 / frame_side
    assert (step.theta[:, :, 2] - theta_true[:, :, 2]).norm() < 0.5 * cell
