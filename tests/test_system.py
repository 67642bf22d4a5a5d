"""Tests for the theta-error metric and the TimeCycleSystem run-time policy (NaN guard, warm-up).

The system is exercised with tiny stand-in modules so the tests pin its own behaviour; the real
encoder/tracker/loss are wired in tests/test_configs.py.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from cyclecorr.ops.geometry import grid_points as patch_grid_points
from cyclecorr.ops.geometry import theta_error_px
from cyclecorr.systems.timecycle import TimeCycleSystem
from helpers.lightning import quiet_trainer

IDENTITY_THETA = torch.tensor([[1 / 3, 0.0, 0.0], [0.0, 1 / 3, 0.0]])


# ------------------------------------------------------------------ metric
def test_grid_points_span_the_patch() -> None:
    pts = patch_grid_points(20)
    assert pts.shape == (400, 2)
    assert pts.min() == -1.0 and pts.max() == 1.0
    assert torch.equal(pts[0], torch.tensor([-1.0, -1.0]))
    assert torch.equal(pts[1], torch.tensor([-1.0 + 2 / 19, -1.0]))  # x varies fastest


def test_theta_error_zero_for_identical_maps() -> None:
    theta = IDENTITY_THETA.expand(3, 2, 3)
    assert torch.allclose(theta_error_px(theta, theta, crop_size=240), torch.zeros(3))


def test_theta_error_translation_in_pixels() -> None:
    # a shift of 0.1 normalised units on a 100-px crop is 0.1 * 100 / 2 = 5 px at every point
    gt = IDENTITY_THETA[None]
    pred = gt.clone()
    pred[0, 0, 2] = 0.06
    pred[0, 1, 2] = -0.08  # |(0.06, -0.08)| = 0.1
    assert theta_error_px(pred, gt, crop_size=100).item() == pytest.approx(5.0, abs=1e-5)


def test_theta_error_scale_hand_computed() -> None:
    # on the 2x2 grid (the corners), doubling the scale moves every corner by |p|/3 = sqrt(2)/3
    gt = IDENTITY_THETA[None]
    pred = 2 * gt
    expected = math.sqrt(2) / 3 * 144 / 2
    err = theta_error_px(pred, gt, crop_size=144, grid=2)
    assert err.item() == pytest.approx(expected, rel=1e-5)


def test_theta_error_broadcasts_over_cycles() -> None:
    gt = IDENTITY_THETA.expand(2, 2, 3)
    pred = IDENTITY_THETA.repeat(2, 4, 1, 1)  # (B=2, k=4, 2, 3)
    pred[:, :, 0, 2] += torch.tensor([0.0, 0.1, 0.2, 0.3])
    err = theta_error_px(pred, gt[:, None], crop_size=20)
    assert err.shape == (2, 4)
    assert torch.allclose(err[0], torch.tensor([0.0, 1.0, 2.0, 3.0]), atol=1e-5)


def test_theta_error_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="geometry: expected .*affine maps"):
        theta_error_px(torch.zeros(2, 3, 3), torch.zeros(2, 2, 3), crop_size=10)


# ------------------------------------------------------------- stand-ins
class StubLossOutput(NamedTuple):
    total: Tensor
    terms: dict[str, Tensor]
    skip_thetas: Tensor
    long_thetas: Tensor
    direct_thetas: Tensor


class StubTracker(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.tensor(0.1))


class StubLoss(nn.Module):
    """Loss on feature means; NaN at the listed call numbers; thetas off by ``tracker.shift``."""

    def __init__(self, nan_calls: set[int] | None = None, k: int = 2) -> None:
        super().__init__()
        self.nan_calls = nan_calls or set()
        self.k = k
        self.calls = 0

    def forward(
        self, tracker: StubTracker, frame_feats: Tensor, patch_feat: Tensor, theta_gt: Tensor
    ) -> StubLossOutput:
        assert frame_feats.shape[1] == self.k + 1
        sim = (frame_feats.mean() - patch_feat.mean() - 1.0) ** 2
        skip = tracker.shift**2
        total = sim + skip
        if self.calls in self.nan_calls:
            total = total * float("nan")
        self.calls += 1
        thetas = theta_gt[:, None].repeat(1, self.k, 1, 1)  # (B, k, 2, 3)
        skip_thetas = thetas.clone()
        skip_thetas[..., 0, 2] += tracker.shift.detach()
        terms = {"sim": sim, "skip": skip}
        return StubLossOutput(total, terms, skip_thetas, thetas, thetas)


def make_system(
    nan_calls: set[int] | None = None, freeze_steps: int = 0, max_nonfinite: int = 10
) -> TimeCycleSystem:
    encoder = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4))
    return TimeCycleSystem(
        encoder=encoder,
        tracker=StubTracker(),
        loss=StubLoss(nan_calls),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-2),
        freeze_encoder_steps=freeze_steps,
        max_nonfinite_in_row=max_nonfinite,
    )


def make_loader(num: int = 8, crop: int = 16) -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    samples = [
        {
            "frames": torch.randn(3, 3, crop, crop, generator=gen),
            "patch": torch.randn(3, 3, crop // 3 + 1, crop // 3 + 1, generator=gen)[0],
            "theta": IDENTITY_THETA.clone(),
            "index": torch.tensor(i),
            "skipped": torch.tensor(1),
        }
        for i in range(num)
    ]
    return DataLoader(samples, batch_size=2)  # type: ignore[arg-type]


class StepRecorder(pl.Callback):
    """Records, per optimiser step, whether encoder grads exist and the encoder's mode."""

    def __init__(self) -> None:
        self.encoder_has_grad: list[bool] = []
        self.encoder_training: list[bool] = []
        self.tracker_params: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:  # type: ignore[no-untyped-def]
        grads = [p.grad for p in pl_module.encoder.parameters()]
        self.encoder_has_grad.append(any(g is not None and g.abs().sum() > 0 for g in grads))
        self.encoder_training.append(pl_module.encoder.training)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.tracker_params.append(float(pl_module.tracker.shift.detach()))


# ------------------------------------------------------------- NaN guard
def test_nonfinite_step_is_skipped_and_counted() -> None:
    system = make_system(nan_calls={1, 2})
    recorder = StepRecorder()
    trainer = quiet_trainer(max_steps=4, callbacks=[recorder])
    trainer.fit(system, train_dataloaders=make_loader())
    # Lightning counts a skipped step in global_step, but nothing was back-propagated for it
    assert system.nonfinite_steps == 2
    assert trainer.global_step == 4
    # the parameter did not move on the skipped batches (1 and 2)
    assert recorder.tracker_params[1] == recorder.tracker_params[0]
    assert recorder.tracker_params[2] == recorder.tracker_params[0]
    assert recorder.tracker_params[3] != recorder.tracker_params[2]
    assert system.skipped_videos == 8  # 4 batches x 2 samples x 1 skipped video each
    assert float(trainer.callback_metrics["train/nonfinite_steps"]) == 2.0


def test_too_many_nonfinite_in_row_raises() -> None:
    system = make_system(nan_calls={1, 2, 3}, max_nonfinite=3)
    trainer = quiet_trainer(max_steps=10)
    with pytest.raises(RuntimeError, match="non-finite .* 3 steps in a row"):
        trainer.fit(system, train_dataloaders=make_loader())
    assert system.nonfinite_steps == 3


# ---------------------------------------------------------------- warm-up
def test_encoder_frozen_during_warmup_then_trained() -> None:
    system = make_system(freeze_steps=2)
    recorder = StepRecorder()
    before = [p.detach().clone() for p in system.encoder.parameters()]
    bn_mean = system.encoder[1].running_mean.clone()
    trainer = quiet_trainer(max_steps=2, callbacks=[recorder])
    trainer.fit(system, train_dataloaders=make_loader())
    assert recorder.encoder_has_grad == [False, False]
    assert recorder.encoder_training == [False, False]
    for old, new in zip(before, system.encoder.parameters()):
        assert torch.equal(old, new)
    assert torch.equal(bn_mean, system.encoder[1].running_mean)  # eval-mode BN: stats fixed

    trainer = quiet_trainer(max_steps=4, callbacks=[recorder])
    trainer.fit(system, train_dataloaders=make_loader())  # steps 0..3; 2 and 3 unfrozen
    assert recorder.encoder_has_grad[2:] == [False, False, True, True]
    assert recorder.encoder_training[2:] == [False, False, True, True]
    assert not torch.equal(bn_mean, system.encoder[1].running_mean)


# ------------------------------------------------------------- validation
def test_validation_reports_theta_error_in_pixels() -> None:
    system = make_system()
    trainer = quiet_trainer(max_steps=1)
    trainer.validate(system, dataloaders=make_loader(num=2, crop=16), verbose=False)
    metrics = trainer.callback_metrics
    # skip thetas are off by 0.1 in x: 0.1 * 16 / 2 = 0.8 px; long thetas are exact
    assert float(metrics["val/theta_err_px_skip"]) == pytest.approx(0.8, abs=1e-5)
    assert float(metrics["val/theta_err_px_long"]) == pytest.approx(0.0, abs=1e-6)
    assert float(metrics["val/theta_err_px"]) == pytest.approx(0.4, abs=1e-5)
    assert {"val/loss", "val/sim", "val/skip"} <= set(metrics)


def test_checkpoints_store_the_encoder_layout() -> None:
    from cyclecorr.models.encoder import Encoder

    system = make_system()
    stub: dict = {}
    system.on_save_checkpoint(stub)
    assert "cyclecorr_encoder" not in stub  # a plain nn.Sequential has no layout
    system.encoder = Encoder("resnet18", "layer2", out_channels=8, padding_mode="reflect")
    system.on_save_checkpoint(stub)
    assert stub["cyclecorr_encoder"] == {
        "arch": "resnet18", "stop_at": "layer2", "out_channels": 8, "padding_mode": "reflect",
    }  # fmt: skip
