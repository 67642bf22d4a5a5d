"""Score a folder of DAVIS-2017 semi-supervised predictions; write the official CSV files.

Protocol (the official ``davis2017-evaluation`` semi-supervised task, reproduced to float precision
by ``tests/test_davis_scoring.py``):

- Frames are the sorted ground-truth annotation files of the sequence; the first and the last are
  excluded. Predictions are ``<results_dir>/<sequence>/<frame stem>.png`` palette (or grey) PNGs
  of object ids, the same size as the annotation.
- Objects are ids ``1..N``, ``N`` = the largest id of the first annotated frame (void 255
  excluded). Ids above ``N`` in later ground-truth frames are ignored, as officially. A prediction
  id outside ``0..N`` is an error; an object never predicted scores as an empty prediction.
- Void (255) pixels: the official semi-supervised code turns them into background before scoring
  (its void mask is computed after that and is always empty), so by default void pixels count as
  background (``ignore_void=False``). ``ignore_void=True`` removes them from both masks instead.
- Per object ``<seq>_<id>``: J and F statistics (``davis_metrics.statistics``); J&F of the object is
  ``(J-Mean + F-Mean) / 2``. Global numbers are plain means over all objects (not sequences), and
  ``J&F-Mean = (J-Mean + F-Mean) / 2``.
- CSVs as the official writes them (pandas, ``float_format="%.3f"``):
  ``global_results-<split>.csv`` with ``J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay``
  and ``per-sequence_results-<split>.csv`` with ``Sequence,J-Mean,F-Mean`` rows ``<seq>_<id>``.
"""

from __future__ import annotations

import csv
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from cyclecorr.data.davis_format import VOID_LABEL, read_annotation
from cyclecorr.eval.datasets.davis import DavisSequence, list_sequences, load_sequence
from cyclecorr.eval.metrics.davis import Stats, boundary_f, jaccard, statistics

__all__ = [
    "GLOBAL_COLUMNS",
    "GlobalScores",
    "ObjectScores",
    "ScoringResult",
    "evaluate_sequences",
    "score_sequence",
    "write_official_csvs",
]

GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


class ObjectScores(NamedTuple):
    """Scores of one object of one sequence.

    Attributes:
        name: ``"<sequence>_<object id>"`` as in the official per-sequence CSV.
        sequence: Sequence name.
        object_id: Object id (1-based).
        j: J statistics (mean, recall, decay).
        f: F statistics.
        j_frames: (T - 2,) float64 per-frame J (first and last frames excluded).
        f_frames: (T - 2,) float64 per-frame F.
    """

    name: str
    sequence: str
    object_id: int
    j: Stats
    f: Stats
    j_frames: np.ndarray
    f_frames: np.ndarray

    @property
    def jf_mean(self) -> float:
        """``(J-Mean + F-Mean) / 2`` of this object."""
        return (self.j.mean + self.f.mean) / 2


class GlobalScores(NamedTuple):
    """Global DAVIS numbers: means over all objects (fields in ``GLOBAL_COLUMNS`` order)."""

    jf_mean: float
    j_mean: float
    j_recall: float
    j_decay: float
    f_mean: float
    f_recall: float
    f_decay: float


class ScoringResult(NamedTuple):
    """Per-object scores (sequence order, then object id) and the global numbers."""

    objects: list[ObjectScores]
    overall: GlobalScores


def _prediction_frame(path: Path, shape: tuple[int, ...], num_objects: int) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(
            f"{__name__}: missing prediction {path}; write one PNG of object ids per annotated "
            "frame, named like the annotation, under <results_dir>/<sequence>/."
        )
    pred = read_annotation(path)
    if pred.shape != shape:
        raise ValueError(
            f"{__name__}: prediction {path} is {pred.shape[1]}x{pred.shape[0]} but the annotation "
            f"is {shape[1]}x{shape[0]}; upsample predictions to the annotation size."
        )
    if int(pred.max()) > num_objects:
        raise ValueError(
            f"{__name__}: prediction {path} holds ids {sorted(set(np.unique(pred).tolist()))} but "
            f"the first frame's ground truth has objects 1..{num_objects}; predict only those ids "
            "(0 = background, no void)."
        )
    return pred


def _num_objects(sequence: DavisSequence) -> int:
    if len(sequence.annotations) < 3:
        raise ValueError(
            f"{__name__}: sequence {sequence.name!r} has {len(sequence.annotations)} annotated "
            "frames; scoring excludes the first and last, so it needs at least 3 (test-dev "
            "ground truth only has the first frame and cannot be scored)."
        )
    first = read_annotation(sequence.annotations[0])
    first[first == VOID_LABEL] = 0
    num_objects = int(first.max())
    if num_objects == 0:
        raise ValueError(
            f"{__name__}: first annotation {sequence.annotations[0]} has no object (ids 1..N); "
            "semi-supervised scoring needs the objects given in the first frame."
        )
    return num_objects


def score_sequence(
    sequence: DavisSequence,
    results_dir: str | Path,
    ignore_void: bool = False,
    bound_th: float = 0.008,
) -> list[ObjectScores]:
    """Score the predictions of one sequence, one entry per first-frame object.

    Args:
        sequence: the ground-truth sequence (``davis_io.load_sequence``).
        results_dir: folder holding ``<sequence.name>/<frame stem>.png`` predictions.
        ignore_void: remove void pixels from both masks instead of the official "void is
            background".
        bound_th: boundary tolerance (see ``davis_metrics.boundary_f``).

    Returns:
        ``ObjectScores`` for objects 1..N.
    """
    num_objects = _num_objects(sequence)
    evaluated = sequence.annotations[1:-1]
    j_frames = np.zeros((num_objects, len(evaluated)))  # (N, T - 2)
    f_frames = np.zeros((num_objects, len(evaluated)))  # (N, T - 2)
    for t, gt_path in enumerate(evaluated):
        gt = read_annotation(gt_path)
        void = gt == VOID_LABEL
        pred = _prediction_frame(
            Path(results_dir) / sequence.name / f"{gt_path.stem}.png", gt.shape, num_objects
        )
        void_arg = void if ignore_void else None
        for k in range(num_objects):
            gt_k, pred_k = gt == k + 1, pred == k + 1
            j_frames[k, t] = jaccard(gt_k, pred_k, void_arg)
            f_frames[k, t] = boundary_f(gt_k, pred_k, void_arg, bound_th)
    return [
        ObjectScores(
            f"{sequence.name}_{k + 1}",
            sequence.name,
            k + 1,
            statistics(j_frames[k]),
            statistics(f_frames[k]),
            j_frames[k],
            f_frames[k],
        )
        for k in range(num_objects)
    ]


def _overall(objects: list[ObjectScores]) -> GlobalScores:
    j = np.array([obj.j for obj in objects])  # (num_objects, 3) mean, recall, decay
    f = np.array([obj.f for obj in objects])  # (num_objects, 3)
    j_avg, f_avg = j.mean(axis=0), f.mean(axis=0)
    return GlobalScores(float((j_avg[0] + f_avg[0]) / 2), *map(float, j_avg), *map(float, f_avg))


def evaluate_sequences(
    davis_root: str | Path,
    results_dir: str | Path,
    sequences: list[str] | None = None,
    split: str = "val",
    resolution: str = "480p",
    progress: bool = True,
    num_workers: int = 0,
    ignore_void: bool = False,
    bound_th: float = 0.008,
) -> ScoringResult:
    """Score every sequence of a split (or the given ones) against a DAVIS root.

    Args:
        davis_root: DAVIS root (``ImageSets``, ``Annotations`` ...).
        results_dir: predictions, ``<results_dir>/<sequence>/<frame>.png``.
        sequences: sequence names; default: those of ``ImageSets/2017/<split>.txt``.
        split: split list used when ``sequences`` is None.
        resolution: ``"480p"`` or ``"Full-Resolution"``.
        progress: show a progress bar over sequences.
        num_workers: score sequences in this many processes (0: in this process).
        ignore_void: see ``score_sequence``.
        bound_th: see ``davis_metrics.boundary_f``.

    Returns:
        ``ScoringResult`` with per-object and global scores.
    """
    names = list_sequences(davis_root, split) if sequences is None else list(sequences)
    if not names:
        raise ValueError(
            f"{__name__}: no sequence to score (split {split!r}, sequences={sequences})."
        )
    loaded = [load_sequence(davis_root, name, resolution) for name in names]
    bar = tqdm(total=len(loaded), desc="DAVIS scoring", unit="seq", disable=not progress)
    per_sequence: list[list[ObjectScores]] = []
    if num_workers > 0:
        with ProcessPoolExecutor(max_workers=num_workers) as pool:
            futures = [
                pool.submit(score_sequence, seq, results_dir, ignore_void, bound_th)
                for seq in loaded
            ]
            for future in futures:
                per_sequence.append(future.result())
                bar.update()
    else:
        for seq in loaded:
            per_sequence.append(score_sequence(seq, results_dir, ignore_void, bound_th))
            bar.update()
    bar.close()
    objects = [obj for scores in per_sequence for obj in scores]
    return ScoringResult(objects, _overall(objects))


def write_official_csvs(
    result: ScoringResult,
    out_dir: str | Path,
    split: str = "val",
    float_format: str = "%.3f",
) -> tuple[Path, Path]:
    """Write ``global_results-<split>.csv`` and ``per-sequence_results-<split>.csv``.

    Args:
        result: scores from ``evaluate_sequences``.
        out_dir: folder (created if missing).
        split: suffix of the file names.
        float_format: number format (the official uses ``"%.3f"``).

    Returns:
        (global csv path, per-sequence csv path).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    global_path = out / f"global_results-{split}.csv"
    per_sequence_path = out / f"per-sequence_results-{split}.csv"
    with global_path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(GLOBAL_COLUMNS)
        writer.writerow([float_format % value for value in result.overall])
    with per_sequence_path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("Sequence", "J-Mean", "F-Mean"))
        for obj in result.objects:
            writer.writerow([obj.name, float_format % obj.j.mean, float_format % obj.f.mean])
    return global_path, per_sequence_path


def score_first_frames(
    davis_root: str | Path,
    results_dir: str | Path,
    sequences: list[str],
    max_frames: int | None,
    resolution: str = "480p",
) -> ScoringResult:
    """Official DAVIS scores of the first ``max_frames`` frames of each sequence.

    Like ``evaluate_sequences`` on sequences cut after ``max_frames`` frames (the first and the
    last kept frame are excluded, as for a full sequence); global numbers are means over objects.
    """
    objects = []
    for name in sequences:
        seq = load_sequence(davis_root, name, resolution)
        seq = seq._replace(frames=seq.frames[:max_frames], annotations=seq.annotations[:max_frames])
        objects.extend(score_sequence(seq, results_dir))
    return ScoringResult(objects, _overall(objects))


def global_metrics(result: ScoringResult) -> dict[str, float | int]:
    """The global numbers under the official CSV column names, plus ``num_objects``."""
    metrics: dict[str, float | int] = dict(zip(GLOBAL_COLUMNS, map(float, result.overall)))
    metrics["num_objects"] = len(result.objects)
    return metrics


def score_folder(
    davis_root: str | Path,
    results_dir: str | Path,
    out_dir: str | Path,
    sequences: list[str] | None = None,
    split: str = "val",
    resolution: str = "480p",
    max_frames: int | None = None,
    num_workers: int = 0,
    progress: bool = True,
) -> dict[str, float | int]:
    """Score a predictions folder, write the official CSVs into ``out_dir``, return the globals.

    ``max_frames`` scores only the first frames of each sequence (``score_first_frames``).
    """
    if max_frames is None:
        result = evaluate_sequences(
            davis_root, results_dir, sequences, split, resolution, progress, num_workers
        )
    else:
        names = sequences or list_sequences(davis_root, split)
        result = score_first_frames(davis_root, results_dir, names, max_frames, resolution)
    write_official_csvs(result, out_dir, split=split)
    return global_metrics(result)
