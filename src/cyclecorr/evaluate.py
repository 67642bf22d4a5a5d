"""Evaluation entry point: label propagation with a frozen encoder (METHOD.md section 5).

``python -m cyclecorr.evaluate eval=davis encoder=checkpoint ckpt_path=<last.ckpt> [protocol=crw]``
(or ``cyclecorr-evaluate ...``) composes ``conf/evaluate.yaml``: the ``eval`` group is a task (a
``_target_`` partial of a function in ``cyclecorr.eval.tasks`` with its dataset settings), the
``encoder`` group an encoder constructor, the ``protocol`` group a propagation preset. The task
runs with an ``EvalContext`` and writes into the Hydra run folder (``predictions/``, the official
``global_results-val.csv`` / ``per-sequence_results-val.csv``, ...); this module writes
``metrics.json`` (the official column names) and ``config_resolved.yaml`` and prints a table of
the global numbers. ``baselines=true`` runs the baselines table on the task's DAVIS root instead
(``baselines.md``, printed).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.tasks.context import EvalContext, TaskResult
from cyclecorr.presets import load_protocol
from cyclecorr.utils.config import CONF_DIR, register_resolvers
from cyclecorr.utils.runtime import resolve_device

register_resolvers()
log = logging.getLogger(__name__)


def encoder_name(cfg: DictConfig) -> str:
    """The ``encoder`` group choice of a Hydra run, else the constructor's name."""
    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("encoder")
        if choice:
            return str(choice)
    return str(cfg.encoder._target_).rsplit(".", 1)[-1]


def build_context(cfg: DictConfig, out_dir: Path, device: torch.device) -> EvalContext:
    """The task's inputs: a lazy encoder constructor, the protocol, the run folder, the device."""

    def encoder() -> torch.nn.Module:
        log.info("Building encoder %s", encoder_name(cfg))
        return hydra.utils.instantiate(cfg.encoder).to(device)

    protocol = hydra.utils.instantiate(cfg.protocol)
    return EvalContext(encoder, protocol, out_dir, device, bool(cfg.progress))


def task_arguments(cfg_eval: DictConfig) -> dict[str, Any]:
    """The resolved eval config without ``name`` (a label, not a task argument)."""
    node = OmegaConf.to_container(cfg_eval, resolve=True)
    assert isinstance(node, dict)
    return {str(k): v for k, v in node.items() if k != "name"}


def run_baselines(cfg: DictConfig, ctx: EvalContext) -> TaskResult:
    """The baselines table on the eval config's DAVIS root, for ``baselines_protocols``."""
    from cyclecorr.eval.tasks.baselines import baselines_task

    prepare = cfg.eval.get("prepare")
    return baselines_task(
        ctx,
        cfg.eval.root,
        baseline_protocols(list(cfg.baselines_protocols)),
        baseline_checkpoints(cfg),
        cfg.encoder.get("arch"),  # None: each checkpoint's architecture from its weights
        cfg.encoder.get("stop_at"),
        split=cfg.eval.get("split", "val"),
        sequences=list(cfg.eval.sequences) if cfg.eval.get("sequences") else None,
        prepare=None if prepare is None else hydra.utils.instantiate(prepare),
        methods=list(cfg.baselines_methods),
    )


def baseline_protocols(names: list[str]) -> dict[str, PropagationProtocol]:
    """The presets ``conf/protocol/<name>.yaml`` named in ``baselines_protocols``, in order.

    Raises:
        ValueError: A repeated name, an empty list, or an unknown preset (named).
    """
    if not names or len(set(names)) != len(names):
        raise ValueError(
            f"{__name__}: baselines_protocols must be distinct preset names, got "
            f"{names}; e.g. baselines_protocols=[crw]"
        )
    return {name: load_protocol(name) for name in names}


def baseline_checkpoints(cfg: DictConfig) -> list[str | dict[str, str]]:
    """``ckpt_path`` (when set), then ``baselines_checkpoints`` (paths or {path, name, ...})."""
    rows: list[str | dict[str, str]] = [] if cfg.ckpt_path is None else [str(cfg.ckpt_path)]
    for entry in cfg.get("baselines_checkpoints") or []:
        if isinstance(entry, str):
            rows.append(entry)
        else:
            fields = OmegaConf.to_container(entry)
            assert isinstance(fields, dict)
            rows.append({str(k): str(v) for k, v in fields.items()})
    return rows


def metrics_table(metrics: dict[str, Any]) -> str:
    """A small markdown table of the numbers of ``metrics`` (lists and nested values skipped)."""
    lines = ["| metric | value |", "|---|---:|"]
    for key, value in metrics.items():
        if isinstance(value, float):
            lines.append(f"| {key} | {value:.4f} |")
        elif isinstance(value, int | str) or value is None:
            lines.append(f"| {key} | {value} |")
    return "\n".join(lines) + "\n"


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run the task (or the baselines table), write ``metrics.json``, print the table."""
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out_dir / "config_resolved.yaml", resolve=True)
    ctx = build_context(cfg, out_dir, resolve_device(cfg.device))
    if cfg.baselines:
        result = run_baselines(cfg, ctx)
        print((out_dir / "baselines.md").read_text())  # the entry point's product
    else:
        result = hydra.utils.instantiate(task_arguments(cfg.eval))(ctx)
    header: dict[str, Any] = {"eval": str(cfg.eval.name)}
    if result.used_model and not cfg.baselines:
        header.update(encoder=encoder_name(cfg), protocol=ctx.protocol.name)
    elif not result.used_model:
        header.update(encoder=None, protocol=None, scored=str(cfg.eval.predictions))
        log.info("Scored existing predictions in %s: no encoder was built", cfg.eval.predictions)
    metrics = {**header, **result.metrics}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if not cfg.baselines:
        print(metrics_table(metrics))
    log.info("Metrics written to %s", out_dir / "metrics.json")
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns J&F-Mean (DAVIS/synthetic) for sweepers, else None."""
    value = run(cfg).get("J&F-Mean")
    return float(value) if value is not None else None


if __name__ == "__main__":
    main()
