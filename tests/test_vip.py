"""VIP reader (a tree built in tmp_path) and confusion-matrix mIoU golden values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cyclecorr.eval.datasets.vip import list_vip_videos, load_vip, load_vip_video, read_vip_labels
from cyclecorr.eval.metrics.miou import ConfusionMatrix


@pytest.fixture
def vip_root(tmp_path: Path) -> Path:
    for video, num_frames in (("videos1", 4), ("videos2", 2)):
        images = tmp_path / "Images" / video
        labels = tmp_path / "Category_ids" / video
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for t in range(num_frames):
            stem = f"{t + 1:012d}"
            Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(images / f"{stem}.jpg")
            if t % 2 == 0:  # every other frame annotated
                ids = np.full((6, 8), t, dtype=np.uint8)
                ids[0, 0] = 255
                Image.fromarray(ids).save(labels / f"{stem}.png")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "val_videos.txt").write_text("videos2\nvideos1\n\n")
    return tmp_path


def test_list_and_load(vip_root: Path) -> None:
    assert list_vip_videos(vip_root) == ["videos2", "videos1"]
    video = load_vip_video(vip_root, "videos1")
    assert [p.name for p in video.frames][:2] == ["000000000001.jpg", "000000000002.jpg"]
    assert video.annotated == [0, 2]
    assert video.annotations[1] is None
    labels = read_vip_labels(video.annotations[2])
    assert labels.shape == (6, 8) and labels.dtype == np.uint8
    assert labels[0, 0] == 255 and labels[1, 1] == 2
    assert [v.name for v in load_vip(vip_root)] == ["videos2", "videos1"]


def test_reader_errors(vip_root: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train_videos.txt"):
        list_vip_videos(vip_root, "train")
    with pytest.raises(FileNotFoundError, match="no matching annotation"):
        load_vip_video(vip_root, "videos3")
    Image.fromarray(np.full((2, 2), 20, np.uint8)).save(vip_root / "bad.png")
    with pytest.raises(ValueError, match=r"ids \[20\]"):
        read_vip_labels(vip_root / "bad.png")


def test_miou_hand_computed() -> None:
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 2]])  # the two ignored pixels do not count
    cm = ConfusionMatrix(num_classes=4, ignore_index=255)
    cm.update(gt, pred)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[2, 2], expected[2, 0] = 1, 1, 2, 1, 1
    np.testing.assert_array_equal(cm.matrix, expected)
    result = cm.miou()
    # IoU: class 0 = 1 / (2 + 2 - 1), class 1 = 2 / (2 + 3 - 2), class 2 = 1 / (2 + 1 - 1)
    np.testing.assert_allclose(result.per_class[:3], [1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(result.per_class[3])  # absent from gt and prediction: left out
    assert result.miou == pytest.approx(0.5)


def test_miou_false_positive_class_counts_as_zero_and_frames_accumulate() -> None:
    cm = ConfusionMatrix(num_classes=4, ignore_index=255)
    cm.update(np.zeros((2, 2)), np.array([[0, 0], [0, 3]]))
    result = cm.miou()
    np.testing.assert_allclose(result.per_class[[0, 3]], [3 / 4, 0.0])
    assert result.miou == pytest.approx(0.375)
    other = ConfusionMatrix(num_classes=4)
    other.update(np.full((2, 2), 3), np.full((2, 2), 3))
    cm.merge(other)
    # class 0: 3 / 4; class 3: 4 / (4 + 1) after pooling both frames
    assert cm.miou().miou == pytest.approx((3 / 4 + 4 / 5) / 2)


def test_confusion_matrix_errors() -> None:
    cm = ConfusionMatrix(num_classes=4)
    with pytest.raises(ValueError, match="resize the prediction"):
        cm.update(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"pred holds ids \[0, 4\]"):
        cm.update(np.zeros((1, 2)), np.array([[0, 4]]))
    with pytest.raises(ValueError, match=r"gt holds ids \[7\]"):
        cm.update(np.array([[7]]), np.array([[0]]))
    with pytest.raises(ValueError, match="cannot merge"):
        cm.merge(ConfusionMatrix(num_classes=3))
