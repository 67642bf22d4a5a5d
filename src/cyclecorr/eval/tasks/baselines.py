"""The DAVIS baselines table: what label propagation gives without (or with) learned features.

Rows: copy-first-frame (every frame predicted as the first annotation: no propagation at all), raw
Lab pixels, CRW's "scratch" baseline (its random-init ResNet-18 as CRW's ``test.py`` builds it:
seed 777, reflect padding, 256-d ``layer3`` features, no head), a randomly initialised ResNet-50 in
the TimeCycle layout (``layer3`` at stride 1, a bias-free Kaiming-initialised 1x1 projection to 512
+ ReLU; the trunk equals the release's seed-0 test model, the projection is another draw), the tiny
training encoder at random init (what ``backbone=tiny`` checkpoints started from; any subset of
these four rows, ``baselines_methods``), and optionally trained checkpoints; each propagated under
every given protocol (copy-first-frame is protocol-free). Scores use the official DAVIS
definitions; the table is markdown with J&F-Mean, J-Mean and F-Mean in percent.

A finished row is never propagated twice: each row's prediction folder gets a ``row.json``
(method, what built its encoder, the protocol's every field, the sequences) when its last
sequence is written, and a later run into the same folder (same ``run_name``) that finds an equal
``row.json`` takes the row's scores from it (full precision) instead of propagating and scoring
again. A long table therefore resumes after a kill, and rows can be added to a finished table at
the cost of the new rows only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from cyclecorr.data.davis_format import (
    VOID_LABEL,
    read_annotation,
    read_palette,
    write_annotation,
)
from cyclecorr.eval.datasets.davis import list_sequences, load_sequence
from cyclecorr.eval.encoders.checkpoints import checkpoint_encoder
from cyclecorr.eval.encoders.pixels import pixel_encoder
from cyclecorr.eval.encoders.random_init import crw_scratch_encoder, random_encoder
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.tasks.context import EvalContext, TaskResult
from cyclecorr.eval.tasks.davis import run_davis
from cyclecorr.eval.tasks.davis_scoring import evaluate_sequences, write_official_csvs


class BaselineRow(NamedTuple):
    """One row of the table (scores in [0, 1])."""

    method: str
    protocol: str
    jf: float
    j: float
    f: float


class Baseline(NamedTuple):
    """A method to evaluate: its display name and a no-argument constructor of its encoder.

    ``source`` identifies the encoder's weights beyond the name (a checkpoint's path, arch and
    stop_at); a resumed table reuses a row's predictions only when name and source agree.
    """

    name: str
    build: Callable[[], nn.Module]
    source: str = ""


FIXED_ROWS = ("pixels", "crw_scratch", "random_resnet50", "random_tiny")


def fixed_baselines(methods: Sequence[str] = FIXED_ROWS) -> list[Baseline]:
    """The rows that need no checkpoint, by key, in the order given.

    Keys: ``pixels`` (Lab), ``crw_scratch`` (CRW's seed-777 ResNet-18, 256-d layer3),
    ``random_resnet50`` (the TimeCycle layout: layer3 + bias-free Kaiming 1x1 to 512, seed 0),
    ``random_tiny`` (the tiny training encoder, ResNet-18 to layer2 + 1x1 to 128, seed 0: the
    random init of ``backbone=tiny`` checkpoints).

    Raises:
        ValueError: an unknown key.
    """
    table = {
        "pixels": Baseline("pixels (Lab)", functools.partial(pixel_encoder, "lab")),
        "crw_scratch": Baseline("CRW scratch ResNet-18 (random, seed 777)", crw_scratch_encoder),
        "random_resnet50": Baseline(
            "random ResNet-50 + proj (seed 0)",
            functools.partial(
                random_encoder,
                "resnet50",
                "layer3",
                512,
                proj_bias=False,
                proj_init="kaiming_fan_out",
            ),
        ),
        "random_tiny": Baseline(
            "random tiny encoder (ResNet-18 to layer2 + proj 128, seed 0)",
            functools.partial(random_encoder, "resnet18", "layer2", 128),
        ),
    }
    unknown = [m for m in methods if m not in table]
    if unknown:
        raise ValueError(
            f"{__name__}: unknown baselines methods {unknown}; choose from {list(table)}."
        )
    return [table[m] for m in methods]


def default_baselines(
    checkpoints: Sequence[str | Path | Mapping[str, str]] = (),
    arch: str | None = None,
    stop_at: str | None = None,
    methods: Sequence[str] = FIXED_ROWS,
) -> list[Baseline]:
    """The fixed rows named in ``methods`` (``fixed_baselines``), then one row per checkpoint.

    A checkpoint is a path, or a mapping with ``path`` and optionally ``name``, ``arch`` and
    ``stop_at`` (e.g. ``stop_at: layer3`` for a CRW checkpoint at CRW's test depth); ``arch`` /
    ``stop_at`` default to the arguments, ``None`` reading them from the weights.
    """
    rows = fixed_baselines(methods)
    for ckpt in checkpoints:
        spec = {"path": str(ckpt)} if isinstance(ckpt, str | Path) else dict(ckpt)
        path = spec["path"]
        build = functools.partial(
            checkpoint_encoder, path, spec.get("arch", arch), spec.get("stop_at", stop_at)
        )
        name = spec.get("name") or f"checkpoint {checkpoint_label(path)}"
        source = json.dumps(
            {"path": str(Path(path).resolve()), "arch": build.args[1], "stop_at": build.args[2]}
        )
        rows.append(Baseline(name, build, source))
    return rows


def checkpoint_label(path: str | Path) -> str:
    """``<run folder>/<file>`` for ``.../<run>/checkpoints/<file>``, else the file name."""
    path = Path(path)
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.parent.parent.name}/{path.name}"
    return path.name


def write_copy_first_frame(
    davis_root: str | Path,
    out_dir: str | Path,
    sequences: list[str],
    resolution: str = "480p",
) -> None:
    """Write the first annotation of each sequence as the prediction of every frame."""
    for name in sequences:
        seq = load_sequence(davis_root, name, resolution)
        first = read_annotation(seq.annotations[0])
        first[first == VOID_LABEL] = 0  # void is not a prediction
        palette = read_palette(seq.annotations[0])
        for path in seq.frames:
            write_annotation(Path(out_dir) / name / f"{path.stem}.png", first, palette)


def _score(
    davis_root: str | Path, predictions: Path, sequences: list[str], method: str, protocol: str
) -> BaselineRow:
    """Score one method's predictions; the official CSVs (per sequence too) go beside them."""
    result = evaluate_sequences(davis_root, predictions, sequences, progress=False)
    write_official_csvs(result, predictions)
    overall = result.overall
    return BaselineRow(method, protocol, overall.jf_mean, overall.j_mean, overall.f_mean)


def run_baselines(
    davis_root: str | Path,
    out_dir: str | Path,
    protocols: Mapping[str, PropagationProtocol],
    baselines: list[Baseline],
    sequences: list[str] | None = None,
    split: str = "val",
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[BaselineRow]:
    """Propagate and score every baseline under every protocol.

    Args:
        davis_root: DAVIS-2017 layout root.
        out_dir: Predictions go to ``<out_dir>/<method slug>/<protocol>/<seq>/``, with the
            official ``global_results-val.csv`` and ``per-sequence_results-val.csv`` beside them.
        protocols: Protocol name -> protocol.
        baselines: Methods (``default_baselines()``).
        sequences: Subset of sequences (default: the split's).
        split: Split list in ``ImageSets/2017``.
        device: Device for encoding and attention.
        progress: Show progress bars.

    Returns:
        Rows, copy-first-frame first.
    """
    names = list(sequences) if sequences else list_sequences(davis_root, split)
    out = Path(out_dir)
    rows = [copy_first_frame_row(davis_root, out / "copy_first_frame", names)]
    for baseline in baselines:
        slug = "".join(c if c.isalnum() else "_" for c in baseline.name.lower())
        encoder: nn.Module | None = None
        for proto_name, protocol in protocols.items():
            pred = out / slug / proto_name
            record = row_record(baseline, protocol, names)
            state = stored_row(pred, record)
            if state is None:  # not finished (or made otherwise): propagate
                if encoder is None:
                    encoder = baseline.build().to(device)
                run_davis(
                    encoder, davis_root, pred, protocol, names, device=device, progress=progress
                )
            if isinstance(state, dict):
                row = BaselineRow(baseline.name, proto_name, state["jf"], state["j"], state["f"])
            else:
                row = _score(davis_root, pred, names, baseline.name, proto_name)
                done = {**record, "scores": {"jf": row.jf, "j": row.j, "f": row.f}}
                (pred / ROW_RECORD).write_text(json.dumps(done, indent=1))
            rows.append(row)
    return rows


ROW_RECORD = "row.json"


def copy_first_frame_row(davis_root: str | Path, out_dir: Path, names: list[str]) -> BaselineRow:
    """The copy-first-frame row: written and scored once per folder, then read from it."""
    record: dict[str, object] = {"method": "copy first frame", "sequences": names}
    state = stored_row(out_dir, record)
    if isinstance(state, dict):
        return BaselineRow("copy first frame", "-", state["jf"], state["j"], state["f"])
    write_copy_first_frame(davis_root, out_dir, names)
    row = _score(davis_root, out_dir, names, "copy first frame", "-")
    done = {**record, "scores": {"jf": row.jf, "j": row.j, "f": row.f}}
    (out_dir / ROW_RECORD).write_text(json.dumps(done, indent=1))
    return row


def row_record(
    baseline: Baseline, protocol: PropagationProtocol, sequences: list[str]
) -> dict[str, object]:
    """What made a row's predictions: method, encoder source, every protocol field, sequences."""
    fields = json.loads(json.dumps(dataclasses.asdict(protocol), default=str))
    return {
        "method": baseline.name,
        "source": baseline.source,
        "protocol": fields,
        "sequences": sequences,
    }


def stored_row(pred_dir: Path, record: dict[str, object]) -> dict[str, float] | str | None:
    """What ``pred_dir`` holds of a row made exactly as ``record`` says.

    Returns:
        Its full-precision scores (``{"jf", "j", "f"}``, kept in ``row.json`` beside the official
        CSVs); ``"unscored"`` when the predictions are finished but their scores were not stored;
        ``None`` when the folder holds no finished row made that way.
    """
    path = pred_dir / ROW_RECORD
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    scores = stored.pop("scores", None)
    if stored != record:
        return None
    if not isinstance(scores, dict):
        return "unscored"
    return {key: float(scores[key]) for key in ("jf", "j", "f")}


def format_table(rows: list[BaselineRow], title: str) -> str:
    """Markdown table of the rows, scores in percent with one decimal."""
    lines = [
        f"### {title}",
        "",
        "| method | protocol | J&F-Mean | J-Mean | F-Mean |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.method} | {row.protocol} | {100 * row.jf:.1f} | {100 * row.j:.1f} | "
            f"{100 * row.f:.1f} |"
        )
    return "\n".join(lines) + "\n"


def baselines_task(
    ctx: EvalContext,
    root: str | Path,
    protocols: Mapping[str, PropagationProtocol],
    checkpoints: Sequence[str | Path | Mapping[str, str]] = (),
    arch: str | None = None,
    stop_at: str | None = None,
    split: str = "val",
    sequences: list[str] | None = None,
    prepare: Callable[[], object] | None = None,
    methods: Sequence[str] = FIXED_ROWS,
) -> TaskResult:
    """The baselines table on a DAVIS root: rows of ``default_baselines`` x ``protocols``.

    Writes ``<out_dir>/baselines/`` (predictions and official CSVs per row) and
    ``<out_dir>/baselines.md``; ``ctx.encoder`` and ``ctx.protocol`` are not used.

    Returns:
        ``TaskResult`` whose metrics hold ``"baselines"``: one dict per row.
    """
    if prepare is not None:
        prepare()
    rows = run_baselines(
        root,
        ctx.out_dir / "baselines",
        protocols,
        default_baselines(checkpoints, arch, stop_at, methods),
        sequences=sequences,
        split=split,
        device=ctx.device,
        progress=ctx.progress,
    )
    table = format_table(rows, f"DAVIS baselines on {Path(root).name}")
    (ctx.out_dir / "baselines.md").write_text(table)
    return TaskResult({"baselines": [row._asdict() for row in rows]})
