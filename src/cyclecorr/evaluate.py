"""Evaluation entry point: label propagation with a frozen encoder (METHOD.md section 5).

``python -m cyclecorr.evaluate eval=davis encoder=checkpoint ckpt_path=<last.ckpt> [protocol=crw]``
builds the encoder and protocol from ``conf/`` (groups ``eval``, ``encoder``, ``protocol``),
propagates, scores and writes into the Hydra run folder: ``predictions/``, the official
``global_results-val.csv`` / ``per-sequence_results-val.csv``, ``metrics.json`` and
``config_resolved.yaml``. ``eval.predictions=<folder>`` scores existing predictions with no model;
``eval=synthetic`` first writes held-out generated videos in DAVIS layout into the run folder;
``baselines=true`` writes and prints the DAVIS baselines table (``baselines.md``) for the presets
in ``baselines_protocols``. ``eval=jhmdb`` reports PCK@alpha and ``eval=vip`` mIoU in
``metrics.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from cyclecorr.utils.config import CONF_DIR, register_resolvers

if TYPE_CHECKING:
    from cyclecorr.eval.protocols import PropagationProtocol

register_resolvers()
log = logging.getLogger(__name__)


def plain(node: DictConfig) -> dict[str, Any]:
    """A resolved config node as a plain ``dict`` with string keys."""
    return cast(dict[str, Any], OmegaConf.to_container(node, resolve=True))


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def score_davis(cfg_eval: DictConfig, predictions: Path, out_dir: Path, progress: bool) -> dict:
    """Score a predictions folder against ``cfg_eval.root``; write the two official CSVs."""
    from cyclecorr.eval.davis_scoring import evaluate_sequences, write_official_csvs

    if cfg_eval.max_frames is not None:
        from cyclecorr.eval.davis_io import list_sequences
        from cyclecorr.eval.probe import score_first_frames

        names = list(cfg_eval.sequences or list_sequences(cfg_eval.root, cfg_eval.split))
        result = score_first_frames(
            cfg_eval.root, predictions, names, cfg_eval.max_frames, cfg_eval.resolution
        )
        write_official_csvs(result, out_dir, split=cfg_eval.split)
        return {k: float(v) for k, v in result.overall._asdict().items()}
    result = evaluate_sequences(
        cfg_eval.root,
        predictions,
        sequences=list(cfg_eval.sequences) if cfg_eval.sequences else None,
        split=cfg_eval.split,
        resolution=cfg_eval.resolution,
        progress=progress,
        num_workers=cfg_eval.num_workers,
    )
    write_official_csvs(result, out_dir, split=cfg_eval.split)
    metrics = {k: float(v) for k, v in result.overall._asdict().items()}
    metrics["num_objects"] = len(result.objects)
    return metrics


def write_synthetic(cfg_eval: DictConfig, progress: bool) -> None:
    """Write the held-out generated videos of ``eval=synthetic`` into ``cfg_eval.root``."""
    from cyclecorr.data.synthetic import SyntheticVideoSpec
    from cyclecorr.data.synthetic_davis import write_synthetic_davis

    spec = SyntheticVideoSpec(**plain(cfg_eval.spec))
    write_synthetic_davis(
        cfg_eval.root, cfg_eval.num_videos, spec, cfg_eval.seed, progress=progress
    )


def evaluate_davis(cfg: DictConfig, out_dir: Path, device: torch.device) -> dict[str, Any]:
    """Propagate (unless ``eval.predictions`` is set) and score a DAVIS-layout root."""
    from cyclecorr.eval.davis_runner import run_davis

    cfg_eval = cfg.eval
    if cfg_eval.name == "synthetic" and cfg_eval.predictions is None:
        write_synthetic(cfg_eval, cfg.progress)
    if cfg_eval.predictions is not None:
        log.info("Scoring existing predictions in %s (no model)", cfg_eval.predictions)
        return score_davis(cfg_eval, Path(cfg_eval.predictions), out_dir, cfg.progress)
    encoder = hydra.utils.instantiate(cfg.encoder).to(device)
    protocol = hydra.utils.instantiate(cfg.protocol)
    predictions = out_dir / "predictions"
    runs = run_davis(
        encoder,
        cfg_eval.root,
        predictions,
        protocol,
        sequences=list(cfg_eval.sequences) if cfg_eval.sequences else None,
        split=cfg_eval.split,
        resolution=cfg_eval.resolution,
        device=device,
        max_frames=cfg_eval.max_frames,
        overlay=cfg_eval.overlay,
        progress=cfg.progress,
    )
    metrics = score_davis(cfg_eval, predictions, out_dir, cfg.progress)
    frames = sum(run.num_frames for run in runs)
    metrics["frames_per_second"] = frames / max(1e-9, sum(run.seconds for run in runs))
    return metrics


def baseline_protocols(names: list[str]) -> dict[str, PropagationProtocol]:
    """The protocol presets named in ``baselines_protocols``, in the given order.

    Raises:
        ValueError: An unknown or repeated name, or an empty list.
    """
    from cyclecorr.eval.protocols import PRESETS

    unknown = [n for n in names if n not in PRESETS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(
            f"cyclecorr/evaluate.py: baselines_protocols must be distinct preset names from "
            f"{sorted(PRESETS)}, got {list(names)}; e.g. baselines_protocols=[crw]"
        )
    return {n: PRESETS[n] for n in names}


def baseline_checkpoints(cfg: DictConfig) -> list[str]:
    """``ckpt_path`` (when set) followed by every path of ``baselines_checkpoints``."""
    paths = [] if cfg.ckpt_path is None else [str(cfg.ckpt_path)]
    return paths + [str(p) for p in cfg.get("baselines_checkpoints") or []]


def evaluate_baselines(cfg: DictConfig, out_dir: Path, device: torch.device) -> dict[str, Any]:
    """Write ``baselines.md`` (presets of ``baselines_protocols``) and print it; returns rows."""
    from cyclecorr.eval.baselines import default_baselines, format_table, run_baselines

    if cfg.eval.name == "synthetic":
        write_synthetic(cfg.eval, cfg.progress)
    arch, stop_at = cfg.encoder.get("arch"), cfg.encoder.get("stop_at")  # None: from the weights
    rows = run_baselines(
        cfg.eval.root,
        out_dir / "baselines",
        baseline_protocols(list(cfg.baselines_protocols)),
        default_baselines(baseline_checkpoints(cfg), arch, stop_at),
        sequences=list(cfg.eval.sequences) if cfg.eval.sequences else None,
        split=cfg.eval.split,
        device=device,
        progress=cfg.progress,
    )
    table = format_table(rows, f"DAVIS baselines on {Path(cfg.eval.root).name}")
    (out_dir / "baselines.md").write_text(table)
    print(table)  # the entry point's product: one table on stdout
    return {"baselines": [row._asdict() for row in rows]}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Dispatch on ``cfg.eval.name`` and write ``metrics.json``; returns the metrics."""
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out_dir / "config_resolved.yaml", resolve=True)
    device = resolve_device(cfg.device)
    name = cfg.eval.name
    if cfg.baselines:
        metrics = evaluate_baselines(cfg, out_dir, device)
    elif name in ("davis", "synthetic"):
        metrics = evaluate_davis(cfg, out_dir, device)
    elif name in ("jhmdb", "vip"):
        metrics = evaluate_other(cfg, out_dir, device)
    else:
        raise ValueError(
            f"cyclecorr/evaluate.py: unknown eval.name {name!r}; expected davis, synthetic, "
            "jhmdb or vip (pick a config with eval=<name>)"
        )
    metrics = {"eval": name, "encoder": cfg.encoder.kind, "protocol": cfg.protocol.name, **metrics}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("Metrics written to %s: %s", out_dir / "metrics.json", metrics)
    return metrics


def evaluate_other(cfg: DictConfig, out_dir: Path, device: torch.device) -> dict[str, Any]:
    """JHMDB keypoints (PCK) or VIP parts (mIoU)."""
    encoder = hydra.utils.instantiate(cfg.encoder).to(device)
    protocol = hydra.utils.instantiate(cfg.protocol)
    kwargs = {k: v for k, v in plain(cfg.eval).items() if k != "name"}
    if cfg.eval.name == "jhmdb":
        from cyclecorr.eval.keypoint_runner import run_jhmdb

        return run_jhmdb(encoder, protocol=protocol, device=device, progress=cfg.progress, **kwargs)
    from cyclecorr.eval.parts_runner import run_vip

    return run_vip(encoder, protocol=protocol, device=device, progress=cfg.progress, **kwargs)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns J&F-Mean (DAVIS/synthetic) for sweepers, else None."""
    metrics = run(cfg)
    value = metrics.get("J&F-Mean", metrics.get("jf_mean"))
    return float(value) if value is not None else None


if __name__ == "__main__":
    main()
