"""JHMDB reader (a tree built with scipy.io.savemat) and PCK golden values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from cyclecorr.eval.datasets.jhmdb import JOINT_NAMES, jhmdb_split, load_jhmdb, load_jhmdb_video
from cyclecorr.eval.metrics.pck import PCKAccumulator, pck, pck_thresholds

WIDTH, HEIGHT = 20, 16


def _write_video(root: Path, action: str, name: str, pos_img: np.ndarray, num_frames: int) -> None:
    frames = root / "Rename_Images" / action / name
    frames.mkdir(parents=True)
    for t in range(num_frames):
        Image.fromarray(np.zeros((HEIGHT, WIDTH, 3), np.uint8)).save(frames / f"{t + 1:05d}.png")
    joints = root / "joint_positions" / action / name
    joints.mkdir(parents=True)
    savemat(joints / "joint_positions.mat", {"pos_img": pos_img, "scale": np.ones(num_frames)})


@pytest.fixture
def jhmdb_root(tmp_path: Path) -> Path:
    num_frames = 3
    pos = np.zeros((2, 15, num_frames))
    pos[0] = np.arange(15)[:, None] + 1 + np.arange(num_frames)[None, :]  # x (1-based) = j + t + 1
    pos[1] = 5.0  # y (1-based)
    pos[0, 14, 2] = WIDTH + 3  # left ankle leaves the frame in the last frame
    _write_video(tmp_path, "walk", "walk_a", pos, num_frames)
    _write_video(tmp_path, "walk", "walk_b", pos[:, :, :2], 2)
    _write_video(tmp_path, "jump", "jump_a", pos, num_frames)
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "walk_test_split1.txt").write_text("walk_a.avi 2\nwalk_b.avi 1\n\n")
    (splits / "jump_test_split1.txt").write_text("jump_a.avi 2 \n")
    return tmp_path


def test_split_lists(jhmdb_root: Path) -> None:
    assert jhmdb_split(jhmdb_root, 1, "test") == [("jump", "jump_a"), ("walk", "walk_a")]
    assert jhmdb_split(jhmdb_root, 1, "train") == [("walk", "walk_b")]
    with pytest.raises(FileNotFoundError, match="test_split2"):
        jhmdb_split(jhmdb_root, 2)
    (jhmdb_root / "splits" / "run_test_split1.txt").write_text("run_a.avi\n")
    with pytest.raises(ValueError, match=r"run_test_split1.txt:1"):
        jhmdb_split(jhmdb_root, 1)


def test_video_joints_are_zero_based_xy(jhmdb_root: Path) -> None:
    video = load_jhmdb_video(jhmdb_root, "walk", "walk_a")
    assert len(JOINT_NAMES) == 15
    assert len(video.frames) == 3 and video.frames[0].name == "00001.png"
    assert video.joints.shape == (3, 15, 2) and video.visible.shape == (3, 15)
    assert video.joints[1, 4].tolist() == [5.0, 4.0]  # x = 4 + 1 + 1 - 1, y = 5 - 1
    assert not video.visible[2, 14] and video.visible[:2].all()
    assert video.visible.sum() == 3 * 15 - 1
    assert [v.name for v in load_jhmdb(jhmdb_root)] == ["jump_a", "walk_a"]


def test_frame_count_mismatch_is_an_error(jhmdb_root: Path) -> None:
    (jhmdb_root / "Rename_Images" / "walk" / "walk_b" / "00002.png").unlink()
    with pytest.raises(ValueError, match="annotates 2 frames but .* holds 1"):
        load_jhmdb_video(jhmdb_root, "walk", "walk_b")


def _pck_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3 frames, 4 joints; frame 0 is the given annotation (garbage predictions there)."""
    box = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 40.0], [30.0, 40.0]])  # diagonal 50
    gt = np.stack([box, box, box])  # (3, 4, 2)
    gt[2, 3] = [300.0, 400.0]  # invisible, must not enlarge the box
    visible = np.ones((3, 4), dtype=bool)
    visible[2, 3] = False
    pred = gt.copy()
    pred[0] += 1000.0
    pred[1] += [[0, 0], [3, 0], [0, 4], [7, 0]]  # errors 0, 3, 4, 7
    pred[2] += [[3, 4], [0, 0], [2, 0], [0, 0]]  # errors 5, 0, 2, (invisible)
    return pred, gt, visible


def test_pck_thresholds_use_visible_box() -> None:
    _, gt, visible = _pck_case()
    np.testing.assert_allclose(pck_thresholds(gt, visible, 0.1), [3.0, 3.0, 3.0])
    none_visible = np.zeros_like(visible)
    assert np.isnan(pck_thresholds(gt, none_visible, 0.1)).all()


def test_pck_hand_computed() -> None:
    pred, gt, visible = _pck_case()
    # alpha 0.1, threshold 3 px: frame 1 [1, 1, 0, 0], frame 2 [0, 1, 1, -]
    result = pck(pred, gt, visible, alpha=0.1)
    np.testing.assert_allclose(result.per_joint, [0.5, 1.0, 0.5, 0.0])
    assert result.mean == pytest.approx(0.5)
    # alpha 0.2, threshold 6 px: frame 1 [1, 1, 1, 0], frame 2 [1, 1, 1, -]
    result = pck(pred, gt, visible, alpha=0.2)
    np.testing.assert_allclose(result.per_joint, [1.0, 1.0, 1.0, 0.0])
    assert result.mean == pytest.approx(0.75)
    # frame 0 counted: every joint there is wrong
    result = pck(pred, gt, visible, alpha=0.2, skip_first=False)
    np.testing.assert_allclose(result.per_joint, [2 / 3, 2 / 3, 2 / 3, 0.0])


def test_pck_accumulator_pools_frames_and_skips_unseen_joints() -> None:
    gt = np.zeros((2, 2, 2))
    gt[:, 1] = [10.0, 0.0]  # box diagonal 10, threshold 0.6 px at alpha 0.1
    visible = np.ones((2, 2), dtype=bool)
    acc = PCKAccumulator(num_joints=2, alphas=(0.1, 0.2))
    acc.update(gt, gt, visible)  # 1 evaluated frame, all correct
    wrong = gt.copy()
    wrong[:, 0] += 5.0
    gt4, wrong4 = np.concatenate([gt, gt]), np.concatenate([wrong, wrong])
    acc.update(wrong4, gt4, np.ones((4, 2), dtype=bool))  # 3 evaluated frames, joint 0 wrong
    result = acc.result(0.1)
    np.testing.assert_allclose(result.per_joint, [1 / 4, 1.0])  # pooled, not 0.5 per video
    assert result.mean == pytest.approx(5 / 8)
    never = PCKAccumulator(num_joints=2, alphas=(0.1,))
    never.update(gt, gt, np.array([[True, False], [True, False]]))
    result = never.result(0.1)
    assert np.isnan(result.per_joint[1]) and result.mean == 1.0
    with pytest.raises(ValueError, match="not tracked"):
        never.result(0.2)
    with pytest.raises(ValueError, match=r"\(T, J, 2\)"):
        never.update(gt[:, :, :1], gt, visible)
