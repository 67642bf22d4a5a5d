"""The long cycles' shared computation equals running every cycle from scratch.

``cyclecorr.losses.cycle`` runs one backward chain of ``k`` hops (the prefix of every cycle) and
batches hop ``m`` of all forward chains into one tracker call. The straightforward form below is
the release's ``cycle(TT)`` (xiaolonw/TimeCycle ``models/videos/model_simple.py``, called for
``TT = 1..T``): each long cycle ``TT`` recomputes its backward hops through past frames
``T-1, ..., T-TT`` (``list(range(T))[::-1][:TT]``), its forward hops through
``T-TT+1, ..., T-1`` (``list(range(T))[T-TT+1:]``), and the last hop into the target frame.
On random features and a real ``Tracker`` the two must give the same thetas, the same loss and
the same gradients (float tolerance: the batched calls change the summation order).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from cyclecorr.losses.cycle import long_cycle_loss, long_cycle_thetas
from cyclecorr.losses.timecycle import TimeCycleLoss
from cyclecorr.models.tracker import Tracker
from cyclecorr.ops.affinity import l2_normalize
from cyclecorr.ops.geometry import theta_from_params

pytestmark = pytest.mark.usefixtures("one_thread")


def release_long_cycles(tracker: nn.Module, frame_feats: Tensor, query: Tensor) -> Tensor:
    """Every long cycle from scratch, in the release's frame order (``cycle(TT)``).

    Args:
        tracker: the ``Tracker``.
        frame_feats: ``(B, T+1, C, H, W)``: the release's ``T`` past frames (index ``0..T-1``,
            oldest first), then the target frame (index ``T``).
        query: ``(B, C, h, w)`` L2-normalised patch features from the target.

    Returns:
        ``(B, T, 2, 3)``: cycle ``TT``'s final placement in the target at index ``TT-1``.
    """
    big_t = frame_feats.shape[1] - 1
    ends = []
    for tt in range(1, big_t + 1):
        crop = query
        for t in list(range(big_t))[::-1][:tt]:  # recurrent_align backward
            crop = tracker(frame_feats[:, t], crop).crop
        for t in list(range(big_t))[big_t - tt + 1 :]:  # recurrent_align forward
            crop = tracker(frame_feats[:, t], crop).crop
        ends.append(tracker(frame_feats[:, big_t], crop).theta)  # "cycle back ... to target"
    return torch.stack(ends, dim=1)  # (B, T, 2, 3)


def random_setup(k: int = 4) -> tuple[Tracker, Tensor, Tensor, Tensor]:
    """A real tracker whose hops move, random frame features ``(2, k+1, 16, 9, 9)``, a query."""
    torch.manual_seed(0)
    tracker = Tracker(channels=16, patch_cells=3, frame_hw=(9, 9))
    nn.init.normal_(tracker.localizer.head.weight, std=1.0)  # make the hops actually move
    frames = torch.randn(2, k + 1, 16, 9, 9, requires_grad=True)
    query = l2_normalize(torch.randn(2, 16, 3, 3), dim=1)
    theta_gt = theta_from_params(torch.tensor([[0.1, -0.2, 0.3], [-0.3, 0.1, -0.2]]))
    return tracker, frames, query, theta_gt


def grads(loss: Tensor, tracker: nn.Module, frames: Tensor) -> list[Tensor]:
    """Gradients of ``loss`` w.r.t. the frame features and every tracker parameter."""
    return list(torch.autograd.grad(loss, [frames, *tracker.parameters()]))


def test_shared_long_cycles_equal_the_releases_from_scratch_cycles() -> None:
    tracker, frames, query, theta_gt = random_setup(k=4)
    shared = long_cycle_thetas(tracker, frames, query)
    scratch = release_long_cycles(tracker, frames, query)
    assert shared.shape == scratch.shape == (2, 4, 2, 3)
    torch.testing.assert_close(shared, scratch, atol=1e-5, rtol=1e-5)
    # the check has teeth: the cycles end in different places and not at the ground truth
    assert (scratch[:, 1:] - scratch[:, :1]).abs().amax() > 0.05
    shared_loss = long_cycle_loss(shared, theta_gt).mean()
    scratch_loss = long_cycle_loss(scratch, theta_gt).mean()
    torch.testing.assert_close(shared_loss, scratch_loss, atol=1e-6, rtol=1e-5)
    assert scratch_loss > 1e-3
    for got, want in zip(grads(shared_loss, tracker, frames), grads(scratch_loss, tracker, frames)):
        # float32 sums in another order: ~2e-5 relative (measured), far below a real difference
        assert want.norm() > 0 and (got - want).norm() / want.norm() < 1e-4


def test_timecycle_loss_long_terms_equal_the_from_scratch_cycles() -> None:
    """Inside the full loss the first backward hop is the skip cycle's direct hop: same terms."""
    tracker, frames, query, theta_gt = random_setup(k=3)
    patch_feat = query * 5.0  # raw features: the loss L2-normalises them back to ``query``
    out = TimeCycleLoss(k=3)(tracker, frames, patch_feat, theta_gt)
    scratch = release_long_cycles(tracker, frames, query)
    torch.testing.assert_close(out.long_thetas, scratch, atol=1e-5, rtol=1e-5)
    per_cycle = long_cycle_loss(scratch, theta_gt)  # (k,)
    for i in range(1, 4):
        assert out.terms[f"long/{i}"].item() == pytest.approx(per_cycle[i - 1].item(), rel=1e-5)


def test_a_wrong_frame_order_is_detected() -> None:
    """Forward hops taken in the backward order give other thetas: the comparison can fail."""
    tracker, frames, query, _ = random_setup(k=4)
    shared = long_cycle_thetas(tracker, frames, query)
    shuffled = release_long_cycles(tracker, frames[:, [2, 0, 3, 1, 4]], query)
    assert not torch.allclose(shared, shuffled, atol=1e-3)
