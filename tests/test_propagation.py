"""Golden tests for label propagation (cyclecorr.eval.propagation) and protocol presets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cyclecorr.eval.propagation.attention import (
    propagate_labels,
    propagate_labels_dense,
    radius_mask,
)
from cyclecorr.eval.propagation.keypoints import heatmaps_to_keypoints, keypoints_to_heatmaps
from cyclecorr.eval.propagation.label_maps import labels_at_feature_size, labels_to_mask
from cyclecorr.eval.propagation.propagator import LabelPropagator
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.propagation.spec import AttentionSpec
from cyclecorr.presets import load_protocol


def _random_feats(gen: torch.Generator, n: int, c: int = 64, h: int = 9, w: int = 11):
    return torch.randn(n, c, h, w, generator=gen)


def _random_labels(gen: torch.Generator, n: int, num: int = 4, h: int = 9, w: int = 11):
    idx = torch.randint(0, num, (n, h, w), generator=gen)
    return torch.nn.functional.one_hot(idx, num).permute(0, 3, 1, 2).float()  # (n, L, h, w)


SPECS = [
    AttentionSpec(1, "per_frame", 0.05, "per_frame", None),
    AttentionSpec(5, "per_frame", 1e-3, "per_frame", None),
    AttentionSpec(5, "per_frame", 1e-3, "joint", None),
    AttentionSpec(10, "joint", 1e-3, "joint", 3.0),
    AttentionSpec(5, "per_frame", 1e-3, "per_frame", None, renormalize=False),
]


@pytest.mark.parametrize("spec", SPECS)
def test_identity_query_equal_to_reference_reproduces_labels(spec: AttentionSpec) -> None:
    gen = torch.Generator().manual_seed(0)
    feats, labels = _random_feats(gen, 1), _random_labels(gen, 1)
    out = propagate_labels(feats[0], feats, labels, spec)
    assert out.shape == labels[0].shape
    torch.testing.assert_close(out, labels[0], atol=1e-6, rtol=0)


def test_known_shift_moves_labels_by_the_shift() -> None:
    gen = torch.Generator().manual_seed(1)
    ref, labels = _random_feats(gen, 1, h=12, w=12), _random_labels(gen, 1, h=12, w=12)
    dy, dx = 2, -3
    query = torch.roll(ref[0], shifts=(dy, dx), dims=(1, 2))
    spec = AttentionSpec(1, "per_frame", 0.07, "per_frame", None)
    out = propagate_labels(query, ref, labels, spec)
    torch.testing.assert_close(out, torch.roll(labels[0], shifts=(dy, dx), dims=(1, 2)))


def test_radius_excludes_far_matches() -> None:
    gen = torch.Generator().manual_seed(2)
    ref, labels = _random_feats(gen, 1, h=12, w=12), _random_labels(gen, 1, h=12, w=12)
    query = torch.roll(ref[0], shifts=(0, 5), dims=(1, 2))  # true matches 5 cells away
    far = propagate_labels(query, ref, labels, AttentionSpec(1, "per_frame", 0.07, "joint", None))
    near = propagate_labels(query, ref, labels, AttentionSpec(1, "per_frame", 0.07, "joint", 2.0))
    # Without a radius the shifted labels are found; with radius 2 the 5-cell matches are banned.
    torch.testing.assert_close(far, torch.roll(labels[0], shifts=(0, 5), dims=(1, 2)))
    assert not torch.equal(near, far)
    # A frame exempt from the radius (like CRW's first frame) still finds them.
    exempt = propagate_labels(
        query, ref, labels, AttentionSpec(1, "per_frame", 0.07, "joint", 2.0), torch.tensor([False])
    )
    torch.testing.assert_close(exempt, far)


def test_radius_mask_is_strict_like_crw() -> None:
    # Centre of a 3x3 grid: distances 0 (centre), 1 (edges), sqrt(2) (corners); CRW keeps D < r.
    centre = torch.tensor([4])
    assert torch.equal(radius_mask(centre, 3, 3, 1.0), torch.eye(9, dtype=torch.bool)[4:5])
    plus = torch.tensor([[0, 1, 0, 1, 1, 1, 0, 1, 0]], dtype=torch.bool)
    assert torch.equal(radius_mask(centre, 3, 3, 1.2), plus)
    assert radius_mask(centre, 3, 3, 1.5).all()
    # On a line, radius 12 keeps offsets 0..11 and drops 12 (CRW's README radius).
    line = radius_mask(torch.tensor([0]), 1, 30, 12.0)[0]
    assert line[:12].all() and not line[12:].any()


def test_top1_equals_nearest_neighbour_over_context() -> None:
    gen = torch.Generator().manual_seed(3)
    refs, labels = _random_feats(gen, 3, c=8), _random_labels(gen, 3)
    query = torch.randn(8, 9, 11, generator=gen)
    out = propagate_labels(query, refs, labels, AttentionSpec(1, "joint", 0.07, "joint", None))
    qn = torch.nn.functional.normalize(query.reshape(8, -1), dim=0)  # (C, P)
    rn = torch.nn.functional.normalize(refs.reshape(3, 8, -1), dim=1)  # (n, C, P)
    sim = torch.einsum("cq,ncp->qnp", qn, rn).reshape(qn.shape[1], -1)  # (P, n*P)
    best = sim.argmax(dim=1)
    flat_labels = labels.permute(0, 2, 3, 1).reshape(-1, labels.shape[1])  # (n*P, L)
    expected = flat_labels[best].T.reshape(labels.shape[1:])
    torch.testing.assert_close(out, expected)


def test_per_frame_softmax_hand_computed() -> None:
    # 1 query position, 2 frames of 2 positions, 1-d features; per-frame top-2 softmax, averaged.
    refs = torch.tensor([[1.0, -1.0], [1.0, 1.0]]).reshape(2, 1, 1, 2)
    labels = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]]).reshape(2, 1, 1, 2)  # L=1
    query = torch.ones(1, 1, 2)  # (C=1, h=1, w=2), both positions have feature +1
    out = propagate_labels(
        query, refs, labels, AttentionSpec(2, "per_frame", 1.0, "per_frame", None)
    )
    e = torch.exp(torch.tensor(2.0))
    frame0 = (e * 1.0 + 1.0 * 0.0) / (e + 1.0)  # sims +1, -1 -> weights e^1, e^-1
    frame1 = 0.5 * 0.0 + 0.5 * 1.0
    expected = torch.full((1, 1, 2), float((frame0 + frame1) / 2))
    torch.testing.assert_close(out, expected)


def test_chunking_does_not_change_the_result() -> None:
    gen = torch.Generator().manual_seed(4)
    refs, labels = _random_feats(gen, 3, c=16), _random_labels(gen, 3)
    query = torch.randn(16, 9, 11, generator=gen)
    spec = AttentionSpec(5, "joint", 0.07, "joint", 3.0)
    whole = propagate_labels(query, refs, labels, spec)
    chunked = propagate_labels(query, refs, labels, spec, max_elements=3 * 99 * 7)
    torch.testing.assert_close(whole, chunked)
    torch.testing.assert_close(whole.sum(0), torch.ones(9, 11))


WINDOW_CASES = [
    # CRW-like: joint top-k over a dense first frame + radius frames (radius_frames[0] False).
    (AttentionSpec(10, "joint", 0.07, "joint", 3.0), [False, True, True, True, True]),
    (AttentionSpec(10, "joint", 0.07, "joint", 2.5), None),  # radius on every frame
    (AttentionSpec(5, "per_frame", 0.05, "per_frame", 3.0), [False, True, True]),
    (AttentionSpec(40, "per_frame", 0.05, "joint", 3.0), [True, False, True]),  # k > disk size
    (AttentionSpec(3, "per_frame", 0.1, "joint", 1.2), None),  # 5-cell disks, clipped at borders
    (AttentionSpec(4, "per_frame", 0.1, "per_frame", 2.0, False), [False, True, True]),  # release
    (AttentionSpec(6, "joint", 0.1, "joint", 3.0, False), [False, True, True]),  # full, joint
]


@pytest.mark.parametrize(("spec", "on_radius"), WINDOW_CASES)
def test_windowed_radius_equals_dense_masked(spec: AttentionSpec, on_radius: list | None) -> None:
    gen = torch.Generator().manual_seed(7)
    n = 5 if on_radius is None else len(on_radius)
    refs = _random_feats(gen, n, c=16, h=13, w=17)
    labels = torch.rand(n, 3, 13, 17, generator=gen)
    labels = labels / labels.sum(dim=1, keepdim=True)  # soft, like propagated frames
    query = torch.randn(16, 13, 17, generator=gen)
    which = None if on_radius is None else torch.tensor(on_radius)
    dense = propagate_labels_dense(query, refs, labels, spec, which)
    # Small max_elements forces 2x2, 3x3 or 1x1 tiles: tile borders must not change the result.
    for max_elements in (2**25, 3000, 1):
        windowed = propagate_labels(query, refs, labels, spec, which, max_elements=max_elements)
        torch.testing.assert_close(windowed, dense, atol=1e-5, rtol=0)
    if spec.renormalize:
        torch.testing.assert_close(dense.sum(0), torch.ones(13, 17))
    else:  # the kept probabilities of a softmax over more references sum to less than 1
        assert float(dense.sum(0).max()) < 1.0
    # The radius matters here (else the test could not fail): no radius gives another answer.
    free = propagate_labels_dense(query, refs, labels, spec._replace(radius=None))
    assert (free - dense).abs().max() > 1e-2


def test_streaming_propagator_keeps_bounded_context_and_tracks_a_shift() -> None:
    gen = torch.Generator().manual_seed(5)
    feats0, labels0 = _random_feats(gen, 1, h=10, w=10), _random_labels(gen, 1, h=10, w=10)
    proto = load_protocol("crw", context=2, topk=1, radius=2.0, pad_with_first=False)
    prop = LabelPropagator(feats0[0], labels0[0], proto)
    for t in range(1, 6):
        out = prop.step(torch.roll(feats0[0], shifts=(0, t), dims=(1, 2)))
        torch.testing.assert_close(out, torch.roll(labels0[0], shifts=(0, t), dims=(1, 2)))
        assert prop.context.filled == min(t, 2)


def test_labels_at_feature_size_and_back() -> None:
    mask = torch.zeros(32, 32, dtype=torch.long)
    mask[8:24, 8:24] = 2
    small = labels_at_feature_size(mask, 3, (4, 4), mode="area")
    assert small.shape == (3, 4, 4)
    torch.testing.assert_close(small.sum(0), torch.ones(4, 4))
    assert small[2, 1:3, 1:3].min() == 1.0 and small[2, 0, 0] == 0.0
    # Bilinear upsampling + argmax recovers straight cell-aligned boundaries exactly (corners of
    # a box get rounded by bilinear interpolation, so use a half-plane).
    mask = torch.zeros(32, 32, dtype=torch.long)
    mask[:, 16:] = 2
    small = labels_at_feature_size(mask, 3, (4, 4))
    assert torch.equal(labels_to_mask(small, (32, 32)), mask)


def test_protocol_presets_and_overrides() -> None:
    tc, crw = load_protocol("timecycle"), load_protocol("crw")
    assert (tc.size, tc.context, tc.topk, tc.radius, tc.label_norm) == (320, 7, 5, None, "minmax")
    assert (tc.renormalize, tc.pad_with_first, tc.predict_first) == (False, True, True)
    assert tc.temperature == pytest.approx(512**-0.5)
    assert (crw.context, crw.topk, crw.topk_scope, crw.radius, crw.radius_on_first) == (
        20,
        10,
        "joint",
        12.0,
        False,
    )
    assert (crw.temperature, crw.renormalize, crw.pad_with_first, crw.label_norm) == (
        0.05,
        True,
        True,
        "none",
    )
    assert tc.resized_size(480, 854) == (320, 320)
    assert crw.resized_size(480, 854) == (480, 854)  # native
    assert load_protocol("crw", resize="short_side", size=240).resized_size(480, 854) == (240, 427)
    assert load_protocol("crw", radius=None, topk=3).radius is None
    with pytest.raises(ValueError, match="unknown protocol field"):
        load_protocol("crw", topK=3)
    with pytest.raises(ValueError, match="unknown protocol 'uvc'.*crw.*timecycle"):
        load_protocol("uvc")
    with pytest.raises(TypeError):  # every field is required: the YAML presets are the source
        PropagationProtocol(name="x")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="ill-defined"):
        dataclasses.replace(crw, topk_scope="joint", softmax="per_frame")
    with pytest.raises(ValueError, match="label_norm"):
        dataclasses.replace(crw, label_norm="softmax")
    with pytest.raises(ValueError, match="predict_first"):
        dataclasses.replace(crw, predict_first=True, pad_with_first=False)


@pytest.mark.parametrize("readout", ["argmax", "soft_argmax"])
def test_keypoint_heatmaps_round_trip(readout: str) -> None:
    # 64x96 image, 8x12 grid: cell (j, i) centre is pixel (8 j + 3.5, 8 i + 3.5).
    points = np.array([[3.5, 3.5], [51.5, 27.5], [91.5, 59.5]])
    visible = np.array([True, True, False])
    maps = keypoints_to_heatmaps(points, visible, (64, 96), (8, 12), sigma=0.5)
    assert maps.shape == (3, 8, 12)
    torch.testing.assert_close(maps.sum(dim=(1, 2)), torch.tensor([1.0, 1.0, 0.0]))
    back = heatmaps_to_keypoints(maps[:2], (64, 96), readout)  # type: ignore[arg-type]
    if readout == "argmax":
        np.testing.assert_allclose(back, points[:2])
    else:  # symmetric Gaussian away from borders: exact; at the corner pulled inwards
        np.testing.assert_allclose(back[1], points[1], atol=1e-6)


def test_keypoints_follow_a_known_feature_shift() -> None:
    gen = torch.Generator().manual_seed(6)
    feats = torch.randn(32, 8, 12, generator=gen)
    points = np.array([[27.5, 19.5]])  # cell (x=3, y=2) of a 64x96 image
    maps = keypoints_to_heatmaps(points, np.array([True]), (64, 96), (8, 12), sigma=0.5)
    spec = AttentionSpec(1, "per_frame", 0.07, "joint", None)
    out = propagate_labels(
        torch.roll(feats, shifts=(1, 2), dims=(1, 2)), feats[None], maps[None], spec
    )
    np.testing.assert_allclose(heatmaps_to_keypoints(out, (64, 96)), [[27.5 + 16, 19.5 + 8]])


COUNT_SPECS = [
    AttentionSpec(10, "joint", 0.07, "joint", 3.0),
    AttentionSpec(10, "joint", 0.07, "joint", None),
    AttentionSpec(4, "per_frame", 0.1, "per_frame", 2.0, False),
    AttentionSpec(5, "per_frame", 0.05, "joint", None),
    AttentionSpec(6, "joint", 0.1, "joint", 3.0, False),
]


@pytest.mark.parametrize("spec", COUNT_SPECS)
def test_counted_frames_equal_repeated_frames(spec: AttentionSpec) -> None:
    # A frame given once with count m must propagate exactly as m identical copies of it.
    gen = torch.Generator().manual_seed(8)
    refs = _random_feats(gen, 3, c=16, h=11, w=13)
    labels = torch.rand(3, 2, 11, 13, generator=gen)
    query = torch.randn(16, 11, 13, generator=gen)
    counts = torch.tensor([1, 4, 2])
    which = torch.tensor([False, True, True])
    repeated = propagate_labels_dense(
        query, refs.repeat_interleave(counts, 0), labels.repeat_interleave(counts, 0), spec,
        which.repeat_interleave(counts),
    )  # fmt: skip
    for windowed in (True, False):
        counted = propagate_labels(
            query, refs, labels, spec, which, windowed=windowed, counts=counts
        )
        torch.testing.assert_close(counted, repeated, atol=1e-5, rtol=0)
    once = propagate_labels_dense(query, refs, labels, spec, which)
    assert (once - repeated).abs().max() > 1e-3  # the counts matter
