"""Golden tests of each reference step of the propagation presets, on tiny hand-made inputs.

The release (``test_davis.py``): frame-0 padding weighs ``(9 - j) / 8`` at frame ``j``, the top-k
probabilities of a full per-frame softmax are summed unrenormalised and divided by the number of
frames, and every label channel is min-max normalised before it is fed back. CRW (``test.py``):
20 ground-truth copies of frame 0 in the radius slots. The resize rules of both (PIL and OpenCV
nearest, OpenCV bilinear without antialiasing).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from cyclecorr.eval.propagation.attention import propagate_labels
from cyclecorr.eval.propagation.context_bank import FIRST, PADDING, RING
from cyclecorr.eval.propagation.label_maps import (
    labels_at_feature_size,
    labels_to_mask,
    resize_ids_nearest,
)
from cyclecorr.eval.propagation.propagator import LabelPropagator, minmax_labels
from cyclecorr.eval.propagation.segmentation import first_labels, label_ids
from cyclecorr.eval.propagation.spec import AttentionSpec
from cyclecorr.presets import load_protocol


def test_unrenormalised_topk_probabilities_summed_and_divided_by_frames() -> None:
    # One query (feature +1), two frames of three 1-d references each, top-2, temperature 1.
    refs = torch.tensor([[1.0, 0.0, -1.0], [1.0, 1.0, -1.0]]).reshape(2, 1, 1, 3)
    labels = torch.tensor([[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]]).reshape(2, 1, 1, 3)  # L = 1
    query = torch.ones(1, 1, 3)  # all three query cells see the same similarities
    spec = AttentionSpec(2, "per_frame", 1.0, "per_frame", None, renormalize=False)
    out = propagate_labels(query, refs, labels, spec)
    e = math.e
    frame0 = (e * 1.0 + 1.0 * 2.0) / (e + 1 + 1 / e)  # top-2 of softmax over 3, not renormalised
    frame1 = (e * 8.0 + e * 16.0) / (e + e + 1 / e)
    torch.testing.assert_close(out, torch.full((1, 1, 3), (frame0 + frame1) / 2))
    renorm = propagate_labels(query, refs, labels, spec._replace(renormalize=True))
    assert not torch.allclose(renorm, out)  # the switch changes the answer


def test_minmax_normalises_each_channel_over_its_map() -> None:
    labels = torch.tensor([[[1.0, 3.0], [5.0, 9.0]], [[0.2, 0.2], [0.4, 0.6]]])  # (2, 2, 2)
    out = minmax_labels(labels)
    expected = torch.tensor([[[0.0, 0.25], [0.5, 1.0]], [[0.0, 0.0], [0.5, 1.0]]])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(minmax_labels(torch.full((1, 2, 2), 0.3)), torch.zeros(1, 2, 2))


def _frame_zero_slots(prop: LabelPropagator) -> int:
    """How many of the next query's context slots hold frame 0's features."""
    bank, view = prop.context, prop.context.view()
    ring = [s for s in view.local + view.dense if s >= RING]
    same = sum(bool(torch.equal(bank.bank[s], bank.bank[FIRST])) for s in ring)
    return bank.occurrences(FIRST) + bank.occurrences(PADDING) + same


def test_release_padding_gives_frame_zero_weight_nine_minus_j_over_eight() -> None:
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(8, 4, 5, generator=gen)
    onehot = torch.nn.functional.one_hot(torch.randint(0, 2, (4, 5), generator=gen), 2)
    prop = LabelPropagator(feats, onehot.permute(2, 0, 1).float(), load_protocol("timecycle"))
    assert prop.first_prediction is not None  # frame 0 was predicted from its 7 copies + itself
    for j in range(1, 10):
        # frame j sees frame 0's features in the first slot, 7 - j copies and the slot of frame
        # 0's own prediction: 9 - j of the 8 slots while j <= 7, then the first slot alone
        assert _frame_zero_slots(prop) == max(9 - j, 1)
        prop.step(torch.randn(8, 4, 5, generator=gen))
    # the prediction of frame 0 is min-max normalised and replaced the most recent copy
    assert prop.first_prediction.amax(dim=(1, 2)).tolist() == [1.0, 1.0]


def test_release_padding_numerically_gives_frame_zero_nine_minus_j_over_eight() -> None:
    # One-cell frames: each slot's full softmax is over one position, so every slot weighs
    # exactly 1/8. Frame 0 is foreground; every later frame's stored label is set to background,
    # so the foreground predicted at frame j is the share of slots that carry frame 0's labels.
    feats = torch.ones(3, 1, 1)
    fg = torch.tensor([0.0, 1.0]).reshape(2, 1, 1)
    proto = load_protocol("timecycle", label_norm="none")
    prop = LabelPropagator(feats, fg, proto)
    torch.testing.assert_close(prop.first_prediction, fg)  # frame 0 from 8 copies of itself
    for j in range(1, 11):
        out = prop.step(torch.ones(3, 1, 1))
        assert out[1].item() == pytest.approx((9 - j) / 8 if j <= 7 else 1 / 8)
        latest = RING + (prop.context.head - 1) % prop.context.context  # the slot just written
        prop.context.labels[latest] = torch.tensor([[1.0, 0.0]])  # background, (h*w, L)


def test_crw_padding_keeps_twenty_ground_truth_copies_in_the_radius_slots() -> None:
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(8, 6, 6, generator=gen)
    labels = torch.rand(2, 6, 6, generator=gen)
    prop = LabelPropagator(feats, labels, load_protocol("crw"))
    view = prop.context.view()  # the 20 copies are one slot, counted 20 times
    assert prop.first_prediction is None and (view.dense, view.local) == ([FIRST], [PADDING])
    assert int(view.counts[PADDING]) == 20
    torch.testing.assert_close(prop.context.labels[PADDING], labels.flatten(1).T)  # ground truth
    prop.step(torch.randn(8, 6, 6, generator=gen))
    view = prop.context.view()
    assert view.local == [PADDING, RING] and int(view.counts[PADDING]) == 19
    for _ in range(19):  # the padding is used up exactly when the ring is full
        prop.step(torch.randn(8, 6, 6, generator=gen))
    view = prop.context.view()
    assert view.local == list(range(RING, RING + 20)) and prop.context.copies == 0


def test_resize_ids_nearest_equals_pil() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, (48, 85)).astype(np.uint8)
    ours = resize_ids_nearest(torch.from_numpy(ids.astype(np.int64)), (32, 32)).numpy()
    pil = np.asarray(Image.fromarray(ids).resize((32, 32), Image.NEAREST))
    np.testing.assert_array_equal(ours, pil)


def test_bilinear_label_downsampling_samples_the_two_middle_pixels() -> None:
    # OpenCV INTER_LINEAR at scale 8: cell d reads pixels 8d + 3 and 8d + 4, half each.
    positions = torch.zeros(8, 16, dtype=torch.long)
    positions[:, 3] = 1  # only pixel column 3 is label 1
    small = labels_at_feature_size(positions, 2, (1, 2), mode="bilinear")
    torch.testing.assert_close(small[1], torch.tensor([[0.5, 0.0]]))
    area = labels_at_feature_size(positions, 2, (1, 2), mode="area")
    torch.testing.assert_close(area[1], torch.tensor([[0.125, 0.0]]))


def test_output_nearest_resize_uses_opencv_floor_rule() -> None:
    labels = torch.zeros(2, 2, 4)
    labels[1, :, 1] = 1.0  # column 1 of a 4-wide grid is foreground
    index = labels_to_mask(labels, (2, 4), (2, 10))  # argmax at 2x4, then nearest to 2x10
    cols = [math.floor(x * 4 / 10) for x in range(10)]  # cv2 INTER_NEAREST: floor(x * in/out)
    assert index[0].tolist() == [int(c == 1) for c in cols]


def test_first_labels_drop_objects_under_min_pixels() -> None:
    mask = np.zeros((40, 40), dtype=np.uint8)
    mask[:10, :10] = 2  # 100 px
    mask[20, 20:31] = 3  # 11 px: under the release's 12
    ids = label_ids(mask, min_pixels=12)
    assert ids.ids.tolist() == [0, 2] and (ids.positions[20, 20:31] == -1).all()
    proto = load_protocol("timecycle", size=40)
    labels, onehot = first_labels(mask, proto, (5, 5))
    assert labels.ids.tolist() == [0, 2] and onehot.shape == (2, 5, 5)


@pytest.mark.parametrize("name", ["timecycle", "crw"])
def test_presets_reproduce_their_labels_when_query_equals_the_first_frame(name: str) -> None:
    gen = torch.Generator().manual_seed(2)
    feats = torch.randn(16, 6, 7, generator=gen)
    mask = torch.randint(0, 3, (6, 7), generator=gen)
    onehot = torch.nn.functional.one_hot(mask, 3).permute(2, 0, 1).float()
    prop = LabelPropagator(feats, onehot, load_protocol(name))
    out = prop.step(feats.clone())
    assert torch.equal(out.argmax(dim=0), mask)
