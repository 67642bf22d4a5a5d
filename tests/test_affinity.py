"""Golden tests for the patch-to-frame affinity (cyclecorr.ops.affinity)."""

from __future__ import annotations

import math

import pytest
import torch

from cyclecorr.ops.affinity import DEFAULT_TAU, affinity, l2_normalize


def test_l2_normalize_unit_norm_and_zero_safe() -> None:
    x = torch.randn(2, 8, 3, 3, generator=torch.Generator().manual_seed(0))
    x[0, :, 0, 0] = 0.0
    y = l2_normalize(x, dim=1)
    norms = y.norm(dim=1)
    assert torch.allclose(norms[1], torch.ones(3, 3))
    assert norms[0, 0, 0] == 0.0 and not torch.isnan(y).any()


def test_default_tau_is_release_value() -> None:
    assert DEFAULT_TAU == pytest.approx(1 / math.sqrt(512))


def test_affinity_hand_computed_softmax_over_frame() -> None:
    # frame: 1x2 positions with unit vectors e0 and (e0 + e1)/sqrt(2); patch: 1 position e0
    frame = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 1, 2)
    frame[0, :, 0, 1] = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    patch = torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1)
    tau = 0.5
    aff = affinity(patch, frame, tau)
    logits = torch.tensor([1.0, 1 / math.sqrt(2)]) / tau  # logits / tau, exactly
    assert aff.shape == (1, 2, 1)
    assert torch.allclose(aff[0, :, 0], torch.softmax(logits, dim=0))


def test_affinity_layout_and_normalisation() -> None:
    """Columns are distributions over frame cells, indexed row-major i = y * W + x."""
    gen = torch.Generator().manual_seed(1)
    frame = l2_normalize(torch.randn(2, 64, 5, 6, generator=gen))
    patch = frame[:, :, 1:3, 2:4]  # patch cell (v, u) is frame cell (v + 1, u + 2)
    aff = affinity(patch, frame, tau=0.01)
    assert aff.shape == (2, 30, 4)
    assert torch.allclose(aff.sum(dim=1), torch.ones(2, 4))
    expected = torch.tensor([1 * 6 + 2, 1 * 6 + 3, 2 * 6 + 2, 2 * 6 + 3])
    assert torch.equal(aff.argmax(dim=1), expected.expand(2, 4))
    assert aff.max(dim=1).values.min() > 0.99  # sharp at a low temperature


def test_affinity_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="affinity.*same B and C"):
        affinity(torch.zeros(1, 4, 2, 2), torch.zeros(1, 8, 6, 6))
    with pytest.raises(ValueError, match="tau must be > 0"):
        affinity(torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 6, 6), tau=0.0)
