"""Golden tests for the TimeCycle losses: l_theta, skip and long cycles, the weighted total.

The similarity forms have their own golden tests in ``test_similarity.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from cyclecorr.losses.cycle import long_cycle_thetas
from cyclecorr.losses.similarity import inlier_score
from cyclecorr.losses.theta import theta_loss
from cyclecorr.losses.timecycle import TimeCycleLoss
from cyclecorr.models.encoder import Encoder
from cyclecorr.models.tracker import Tracker, TrackStep
from cyclecorr.ops.affinity import l2_normalize
from cyclecorr.ops.geometry import identity_theta, theta_from_params

pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------ theta
def test_theta_loss_zero_for_equal_thetas() -> None:
    theta = theta_from_params(torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.5, -1.0]]))
    assert torch.equal(theta_loss(theta, theta), torch.zeros(2))


def test_theta_loss_translation_is_squared_distance() -> None:
    a = identity_theta(1)
    b = a.clone()
    b[0, :, 2] = torch.tensor([0.3, -0.4])  # |d| = 0.5
    assert theta_loss(a, b).item() == pytest.approx(0.25, rel=1e-5)


def test_theta_loss_rotation_closed_form() -> None:
    # ||(R - I) p / 3||^2 = 2 (1 - cos a) |p|^2 / 9 and mean |p|^2 over the 20x20 grid is
    # 2 * mean(linspace(-1, 1, 20)^2) = 2 * (2 * (1^2 + 3^2 + ... + 19^2) / 19^2) / 20 = 14 / 19
    a = 0.4
    rotated = theta_from_params(torch.tensor([[0.0, 0.0, a]]))
    expected = 2 * (1 - math.cos(a)) / 9 * 14 / 19
    assert theta_loss(rotated, identity_theta(1)).item() == pytest.approx(expected, rel=1e-5)


def test_theta_loss_broadcasts() -> None:
    gt = identity_theta(2)
    pred = gt[:, None].repeat(1, 3, 1, 1)  # (B, k, 2, 3)
    pred[:, :, 0, 2] += torch.tensor([0.0, 0.1, 0.2])
    loss = theta_loss(pred, gt[:, None])
    assert loss.shape == (2, 3)
    assert torch.allclose(loss[1], torch.tensor([0.0, 0.01, 0.04]), atol=1e-6)


# ------------------------------------------------------- cycles with a stub
class MotionStub(nn.Module):
    """A tracker that knows the true motion: pure translations, plus a bias ``e`` per hop.

    Features carry numbers in channels, scaled by channel 0 so that L2 normalisation keeps them:
    frames hold the object's position ``m_f`` (channels 1-2); queries hold their own ``theta``
    (channels 3-8) and the position of their frame (channels 1-2). A hop into frame ``f`` returns
    ``theta_src`` moved by ``m_f - m_src`` (the exact motion) plus ``bias``.
    """

    def __init__(self, bias: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.bias = torch.tensor(bias)

    @staticmethod
    def encode(position: Tensor, theta: Tensor, h: int) -> Tensor:
        b = position.shape[0]
        values = torch.cat([torch.ones(b, 1), position, theta.reshape(b, 6)], dim=1)  # (B, 9)
        return values[:, :, None, None].expand(b, 9, h, h).clone()

    def forward(self, frame_feat: Tensor, query: Tensor) -> TrackStep:
        frame_vals = frame_feat[:, :, 0, 0] / frame_feat[:, :1, 0, 0]  # (B, 9)
        query_vals = query[:, :, 0, 0] / query[:, :1, 0, 0]  # (B, 9)
        theta = query_vals[:, 3:9].reshape(-1, 2, 3).clone()
        theta[:, :, 2] += frame_vals[:, 1:3] - query_vals[:, 1:3] + self.bias
        crop = l2_normalize(self.encode(frame_vals[:, 1:3], theta, query.shape[-1]))
        b, hw_frame = frame_feat.shape[0], frame_feat.shape[-2] * frame_feat.shape[-1]
        aff = torch.full((b, hw_frame, query.shape[-1] ** 2), 1.0 / hw_frame)
        return TrackStep(theta=theta, crop=crop, affinity=aff)


def stub_clip(k: int = 4, b: int = 2) -> tuple[Tensor, Tensor, Tensor]:
    """Frame features ``(B, k+1, 9, 6, 6)`` of a moving object, patch features, theta_gt."""
    gen = torch.Generator().manual_seed(0)
    positions = torch.randn(b, k + 1, 2, generator=gen) * 0.2  # object position per frame
    theta_gt = theta_from_params(torch.tensor([[0.1, 0.2, 0.5], [-0.3, 0.0, -0.2]]))
    frames = torch.stack(
        [MotionStub.encode(positions[:, f], theta_gt, 6) for f in range(k + 1)], dim=1
    )
    patch = MotionStub.encode(positions[:, k], theta_gt, 2) * 3.0  # raw: any positive scale
    return frames, patch, theta_gt


def test_perfect_cycles_give_zero_skip_and_long_losses() -> None:
    frames, patch, theta_gt = stub_clip()
    out = TimeCycleLoss(k=4, sim_form="dot")(MotionStub(), frames, patch, theta_gt)
    for name in ("skip", "long"):
        assert out.terms[name].abs() < 1e-10
    assert torch.allclose(out.skip_thetas, theta_gt[:, None].expand(2, 4, 2, 3), atol=1e-6)
    assert torch.allclose(out.long_thetas, theta_gt[:, None].expand(2, 4, 2, 3), atol=1e-6)
    assert out.direct_thetas.shape == (2, 4, 2, 3)
    assert not torch.allclose(out.direct_thetas[:, 0], theta_gt)  # the object did move


def test_hop_counts_from_a_biased_stub() -> None:
    """A bias e per hop: skip cycles make 2 hops (|2e|^2), long cycle i makes 2i (|2ie|^2)."""
    frames, patch, theta_gt = stub_clip()
    e = torch.tensor([0.03, -0.04])  # |e| = 0.05
    out = TimeCycleLoss(k=4, sim_form="dot")(MotionStub(tuple(e.tolist())), frames, patch, theta_gt)
    for i in range(1, 5):
        assert out.terms[f"skip/{i}"].item() == pytest.approx(4 * 0.05**2, rel=1e-4)
        assert out.terms[f"long/{i}"].item() == pytest.approx((2 * i * 0.05) ** 2, rel=1e-4)


def test_batched_long_cycle_equals_sequential_chains() -> None:
    torch.manual_seed(0)
    tracker = Tracker(channels=8, patch_cells=3, frame_hw=(9, 9), kernel_size=2)
    nn.init.normal_(tracker.localizer.head.weight, std=0.5)  # make the hops actually move
    frames = torch.randn(2, 4, 8, 9, 9)  # k = 3
    query = l2_normalize(torch.randn(2, 8, 3, 3))
    batched = long_cycle_thetas(tracker, frames, query)
    for i in range(1, 4):
        crop = query
        for f in [3 - j for j in range(1, i + 1)] + [3 - i + m for m in range(1, i + 1)]:
            step = tracker(frames[:, f], crop)  # back to t-i, then forward to t (index 3)
            crop = step.crop
        assert torch.allclose(batched[:, i - 1], step.theta, atol=1e-5)


# ------------------------------------------------------------ the total
def tiny_setup(k: int = 2) -> tuple[Encoder, Tracker, Tensor, Tensor, Tensor]:
    torch.manual_seed(0)
    encoder = Encoder("resnet18", "layer2", out_channels=16)
    tracker = Tracker(channels=16, patch_cells=3, frame_hw=(9, 9), kernel_size=2)
    frames = torch.randn(2, k + 1, 3, 72, 72)
    patch = frames[:, k, :, 24:48, 24:48]
    return encoder, tracker, frames, patch, identity_theta(2)


@pytest.mark.parametrize("sim_form", ["inlier", "dot"])
def test_gradients_reach_the_encoder(sim_form: str) -> None:
    encoder, tracker, frames, patch, theta_gt = tiny_setup()
    loss = TimeCycleLoss(k=2, sim_form=sim_form)
    out = loss(tracker, encoder.forward_video(frames), encoder(patch), theta_gt)
    out.total.backward()
    assert torch.isfinite(out.total)
    for module in (encoder.trunk.conv1, encoder.trunk.layer2[1].conv2, encoder.proj[0]):
        assert module.weight.grad is not None and module.weight.grad.abs().sum() > 0
    assert tracker.localizer.head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("sim_form", ["inlier", "dot"])
def test_loss_runs_under_bf16_autocast_with_float32_geometry(sim_form: str) -> None:
    """Lightning's bf16-mixed wraps the loss in autocast: it must run and keep thetas float32."""
    encoder, tracker, frames, patch, theta_gt = tiny_setup()
    loss = TimeCycleLoss(k=2, sim_form=sim_form)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(tracker, encoder.forward_video(frames), encoder(patch), theta_gt)
    out.total.backward()
    assert torch.isfinite(out.total)
    assert out.skip_thetas.dtype == out.long_thetas.dtype == torch.float32
    assert encoder.trunk.conv1.weight.grad is not None


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_total_is_the_weighted_reduction_of_terms(reduce: str) -> None:
    encoder, tracker, frames, patch, theta_gt = tiny_setup(k=3)
    with torch.no_grad():
        feats, patch_feat = encoder.forward_video(frames), encoder(patch)
    loss = TimeCycleLoss(k=3, w_sim=1.0, w_skip=0.1, w_long=0.02, reduce=reduce)
    out = loss(tracker, feats, patch_feat, theta_gt)
    names = {f"{n}/{i}" for n in ("sim", "skip", "long") for i in (1, 2, 3)}
    assert set(out.terms) == names | {"sim", "skip", "long"}
    t = out.terms
    divisor = 3 if reduce == "mean" else 1
    for name in ("sim", "skip", "long"):
        per_hop = sum(t[f"{name}/{i}"].item() for i in (1, 2, 3))
        assert t[name].item() == pytest.approx(per_hop / divisor, rel=1e-6)
    expected = t["sim"] + 0.1 * t["skip"] + 0.02 * t["long"]
    assert out.total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert -1.0 <= t["sim/1"].item() <= 0.0  # minus a normalised inlier count
    # long/1 and skip/1 are the same path t -> t-1 -> t
    assert t["long/1"].item() == pytest.approx(t["skip/1"].item(), rel=1e-5)
    assert out.skip_thetas.shape == out.long_thetas.shape == out.direct_thetas.shape


def test_mean_is_the_sum_over_k() -> None:
    encoder, tracker, frames, patch, theta_gt = tiny_setup(k=3)
    with torch.no_grad():
        feats, patch_feat = encoder.forward_video(frames), encoder(patch)
        mean = TimeCycleLoss(k=3)(tracker, feats, patch_feat, theta_gt)
        summed = TimeCycleLoss(k=3, reduce="sum")(tracker, feats, patch_feat, theta_gt)
    assert TimeCycleLoss().reduce == "mean"  # the release's default
    assert mean.total.item() == pytest.approx(summed.total.item() / 3, rel=1e-5)
    assert mean.terms["sim/2"].item() == pytest.approx(summed.terms["sim/2"].item())


def test_inlier_form_uses_the_given_sampling_convention() -> None:
    """align_corners / translation_quirk reach the inlier mask: each setting gives the score of
    ``inlier_score`` under that setting on the direct hops (and they differ)."""
    encoder, tracker, frames, patch, theta_gt = tiny_setup(k=2)
    nn.init.normal_(tracker.localizer.head.weight, std=0.5)  # off-centre hops
    with torch.no_grad():
        feats, patch_feat = encoder.forward_video(frames), encoder(patch)
        sims = []
        for flags in [(False, False), (True, False), (True, True)]:
            loss = TimeCycleLoss(k=2, align_corners=flags[0], translation_quirk=flags[1])
            out = loss(tracker, feats, patch_feat, theta_gt)
            query = l2_normalize(patch_feat, dim=1)
            direct = [tracker(feats[:, 2 - i], query) for i in (1, 2)]
            expected = [
                -inlier_score(step.affinity, step.theta, (9, 9), *flags).mean() for step in direct
            ]
            for i in (1, 2):
                assert out.terms[f"sim/{i}"].item() == pytest.approx(expected[i - 1].item(), 1e-5)
            sims.append(out.terms["sim"].item())
    assert len({round(value, 6) for value in sims}) == 3


def test_long_cycle_off_is_monitored_but_not_trained() -> None:
    encoder, tracker, frames, patch, theta_gt = tiny_setup()
    feats, patch_feat = encoder.forward_video(frames), encoder(patch)
    out = TimeCycleLoss(k=2, long_cycle=False)(tracker, feats, patch_feat, theta_gt)
    t = out.terms
    assert out.total.item() == pytest.approx((t["sim"] + 0.1 * t["skip"]).item(), rel=1e-5)
    assert t["long"] > 0 and not out.long_thetas.requires_grad


def test_bad_configuration_raises() -> None:
    with pytest.raises(ValueError, match="sim_form"):
        TimeCycleLoss(sim_form="cosine")
    with pytest.raises(ValueError, match="reduce='max'"):
        TimeCycleLoss(reduce="max")
    _, tracker, _, _, theta_gt = tiny_setup(k=2)
    feats = torch.zeros(2, 3, 16, 9, 9)
    with pytest.raises(ValueError, match="k\\+1=5"):
        TimeCycleLoss(k=4)(tracker, feats, torch.zeros(2, 16, 3, 3), theta_gt)
