"""DAVIS scoring: hand-built trees, error messages, and the official numbers on real data."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cyclecorr.data.davis_format import write_annotation
from cyclecorr.eval.datasets.davis import list_sequences, load_sequence
from cyclecorr.eval.tasks.davis_scoring import (
    GLOBAL_COLUMNS,
    evaluate_sequences,
    write_official_csvs,
)

DATA = Path(os.environ.get("CYCLECORR_DATA", Path(__file__).parents[1] / "../shared/data"))
MINI = DATA / "davis2017-mini"
OSVOS = DATA / "davis2017-mini-osvos"
NUM_FRAMES = 6


def _gt_frame(t: int) -> np.ndarray:
    """(12, 16) ids: object 1 a 4x4 square moving right, object 2 a bar, a void strip."""
    mask = np.zeros((12, 16), dtype=np.uint8)
    mask[2:6, 1 + t : 5 + t] = 1
    mask[8:10, 2:14] = 2
    mask[0, :] = 255
    return mask


def _write_tree(root: Path) -> None:
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("seq\n")
    frames = root / "JPEGImages" / "480p" / "seq"
    frames.mkdir(parents=True)
    for t in range(NUM_FRAMES):
        (frames / f"{t:05d}.jpg").write_bytes(b"")  # listed, never decoded by scoring
        write_annotation(root / "Annotations" / "480p" / "seq" / f"{t:05d}.png", _gt_frame(t))


def _write_predictions(results: Path, masks: list[np.ndarray]) -> None:
    for t, mask in enumerate(masks):
        write_annotation(results / "seq" / f"{t:05d}.png", mask)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _write_tree(tmp_path / "davis")
    return tmp_path / "davis"


def test_perfect_prediction_scores_one(tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "res"
    _write_predictions(
        results, [np.where(_gt_frame(t) == 255, 0, _gt_frame(t)) for t in range(NUM_FRAMES)]
    )
    result = evaluate_sequences(tree, results, progress=False)
    assert [obj.name for obj in result.objects] == ["seq_1", "seq_2"]
    for obj in result.objects:
        assert obj.j_frames.shape == (NUM_FRAMES - 2,)
        assert obj.j == (1.0, 1.0, 0.0) and obj.f == (1.0, 1.0, 0.0)
    assert result.overall == pytest.approx((1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0))


def test_missing_object_and_static_prediction(tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "res"
    first = np.where(_gt_frame(0) == 1, 1, 0).astype(np.uint8)  # object 1 frozen, object 2 lost
    _write_predictions(results, [first] * NUM_FRAMES)
    result = evaluate_sequences(tree, results, progress=False)
    obj1, obj2 = result.objects
    # frame t: a 4x4 square shifted by t columns overlaps 4 * (4 - t): J = (16 - 4t) / (16 + 4t)
    expected_j = [(16 - 4 * t) / (16 + 4 * t) for t in range(1, NUM_FRAMES - 1)]
    np.testing.assert_allclose(obj1.j_frames, expected_j)
    assert obj1.j.mean == pytest.approx(np.mean(expected_j))
    assert obj1.j.recall == pytest.approx(1 / 4)  # only t = 1 (0.6) is above 0.5
    np.testing.assert_array_equal(obj2.j_frames, 0.0)
    np.testing.assert_array_equal(obj2.f_frames, 0.0)  # nothing predicted: P = 1, R = 0
    assert result.overall.j_mean == pytest.approx(np.mean(expected_j) / 2)
    assert result.overall.jf_mean == pytest.approx(
        (result.overall.j_mean + result.overall.f_mean) / 2
    )


def test_void_is_background_unless_ignored(tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "res"
    masks = []
    for t in range(NUM_FRAMES):
        pred = np.where(_gt_frame(t) == 255, 1, _gt_frame(t)).astype(np.uint8)  # void -> obj 1
        masks.append(pred)
    _write_predictions(results, masks)
    official = evaluate_sequences(tree, results, progress=False)
    np.testing.assert_allclose(official.objects[0].j_frames, 16 / (16 + 16))  # 16 void pixels
    ignored = evaluate_sequences(tree, results, progress=False, ignore_void=True)
    np.testing.assert_allclose(ignored.objects[0].j_frames, 1.0)
    np.testing.assert_allclose(ignored.objects[0].f_frames, 1.0)


def test_first_and_last_predictions_are_not_needed(tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "res"
    _write_predictions(results, [np.zeros((12, 16), np.uint8)] * NUM_FRAMES)
    (results / "seq" / "00000.png").unlink()
    (results / "seq" / f"{NUM_FRAMES - 1:05d}.png").unlink()
    result = evaluate_sequences(tree, results, sequences=["seq"], progress=False)
    assert result.overall.j_mean == 0.0


def test_clear_errors(tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "res"
    _write_predictions(results, [np.zeros((12, 16), np.uint8)] * NUM_FRAMES)
    (results / "seq" / "00002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing prediction .*seq/00002.png"):
        evaluate_sequences(tree, results, progress=False)
    write_annotation(results / "seq" / "00002.png", np.zeros((12, 15), np.uint8))
    with pytest.raises(ValueError, match=r"00002.png is 15x12 but the annotation is 16x12"):
        evaluate_sequences(tree, results, progress=False)
    bad = np.zeros((12, 16), np.uint8)
    bad[0, 0] = 3
    write_annotation(results / "seq" / "00002.png", bad)
    with pytest.raises(ValueError, match=r"00002.png holds ids \[0, 3\] .* objects 1..2"):
        evaluate_sequences(tree, results, progress=False)


def test_official_csv_format(tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "res"
    first = np.where(_gt_frame(0) == 1, 1, 0).astype(np.uint8)
    _write_predictions(results, [first] * NUM_FRAMES)
    result = evaluate_sequences(tree, results, progress=False)
    global_csv, per_seq_csv = write_official_csvs(result, tmp_path / "out")
    assert global_csv.name == "global_results-val.csv"
    assert per_seq_csv.name == "per-sequence_results-val.csv"
    lines = global_csv.read_text().splitlines()
    assert lines[0] == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert lines[1] == ",".join(f"{value:.3f}" for value in result.overall)
    rows = per_seq_csv.read_text().splitlines()
    assert rows[0] == "Sequence,J-Mean,F-Mean"
    obj1 = result.objects[0]
    assert rows[1] == f"seq_1,{obj1.j.mean:.3f},{obj1.f.mean:.3f}"
    assert rows[2] == "seq_2,0.000,0.000"


def _reference(method: str) -> dict[str, dict[str, float]]:
    with (OSVOS / "reference.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["method"] == method]
    return {row["object"] or "GLOBAL": {k: float(row[k]) for k in GLOBAL_COLUMNS} for row in rows}


def _assert_matches_reference(result, reference: dict[str, dict[str, float]]) -> None:
    assert sorted(obj.name for obj in result.objects) == sorted(
        k for k in reference if k != "GLOBAL"
    )
    for obj in result.objects:
        expected = reference[obj.name]
        got = (obj.jf_mean, *obj.j, *obj.f)
        np.testing.assert_allclose(got, [expected[k] for k in GLOBAL_COLUMNS], rtol=0, atol=1e-6)
    expected = reference["GLOBAL"]
    np.testing.assert_allclose(
        result.overall, [expected[k] for k in GLOBAL_COLUMNS], rtol=0, atol=1e-6
    )


@pytest.mark.data
def test_reproduces_official_osvos_numbers(tmp_path: Path) -> None:
    if not (OSVOS / "reference.csv").exists() or not MINI.exists():
        pytest.skip(f"needs {MINI} and {OSVOS} (set CYCLECORR_DATA)")
    result = evaluate_sequences(MINI, OSVOS, progress=False)
    _assert_matches_reference(result, _reference("osvos"))
    global_csv, _ = write_official_csvs(result, tmp_path)
    assert global_csv.read_text().splitlines()[1].startswith("0.803,0.786,0.856,0.159,0.821,")


@pytest.mark.data
def test_reproduces_official_copy_first_frame_numbers(tmp_path: Path) -> None:
    if not (OSVOS / "reference.csv").exists() or not MINI.exists():
        pytest.skip(f"needs {MINI} and {OSVOS} (set CYCLECORR_DATA)")
    results = tmp_path / "copy_first_frame"
    for name in list_sequences(MINI):
        seq = load_sequence(MINI, name)
        (results / name).mkdir(parents=True)
        for path in seq.annotations:
            shutil.copyfile(seq.annotations[0], results / name / path.name)
    result = evaluate_sequences(MINI, results, progress=False, num_workers=2)
    _assert_matches_reference(result, _reference("copy_first_frame"))
