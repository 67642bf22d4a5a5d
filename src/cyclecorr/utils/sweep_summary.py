"""Sweep summary: one table of every run's final metrics at the end of a Hydra multirun.

``SweepSummaryCallback`` is a Hydra ``Callback`` (registered in ``conf/hydra/default.yaml``).
At the end of each job it writes ``<run dir>/job_return.json`` (status, overrides, the task's
return value, i.e. ``optimized_metric``); at the end of the multirun it reads every run folder
under the sweep dir (``<n>/.hydra/overrides.yaml``, ``<n>/metrics.csv``, ``<n>/job_return.json``),
takes the last logged value of each metric, and writes ``summary.csv`` and ``summary.md`` in the
sweep dir, and logs the markdown table. It works from files only, so it works the same with the
basic launcher and with submitit (jobs on other machines), and failed runs appear with their
status instead of breaking the summary.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)

JOB_RETURN_FILE = "job_return.json"
SKIP_COLUMNS = frozenset({"step", "epoch"})


class RunSummary(NamedTuple):
    """One run of a sweep: folder name, status, command-line overrides, final metric values."""

    job: str
    status: str
    overrides: tuple[str, ...]
    metrics: dict[str, float]


def last_values(metrics_csv: Path) -> dict[str, float]:
    """Last non-empty value of every column of a Lightning ``metrics.csv`` (step/epoch dropped).

    Args:
        metrics_csv: a CSVLogger file; a missing file gives ``{}``.

    Returns:
        ``{column: float}`` for every column that was logged at least once.
    """
    if not metrics_csv.is_file():
        return {}
    final: dict[str, float] = {}
    with open(metrics_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            for name, value in row.items():
                if name in SKIP_COLUMNS or name is None or value in (None, ""):
                    continue
                final[name] = float(value)
    return final


def read_run(run_dir: Path) -> RunSummary:
    """Summarise one run folder of a sweep (see the module docstring for the files read)."""
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    status = "UNKNOWN"
    metrics = last_values(run_dir / "metrics.csv")
    job_file = run_dir / JOB_RETURN_FILE
    if job_file.is_file():
        record = json.loads(job_file.read_text())
        status = str(record.get("status", status))
        if record.get("optimized_metric") and record.get("return_value") is not None:
            metrics.setdefault(record["optimized_metric"], float(record["return_value"]))
    return RunSummary(run_dir.name, status, tuple(overrides or ()), metrics)


def collect_runs(sweep_dir: str | Path) -> list[RunSummary]:
    """Every run folder (one holding ``.hydra/``) directly under ``sweep_dir``, in job order."""
    root = Path(sweep_dir)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / ".hydra").is_dir()]
    runs.sort(key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
    return [read_run(p) for p in runs]


def _format(value: float | None) -> str:
    if value is None or math.isnan(value):
        return ""
    return f"{value:.6g}"


def write_summary(
    runs: list[RunSummary], sweep_dir: str | Path, metrics: list[str] | None = None
) -> str:
    """Write ``summary.csv`` and ``summary.md`` into ``sweep_dir``; return the markdown table.

    The ``overrides`` column lists only the overrides that differ between runs (the swept
    values); those shared by every run are left out.

    Args:
        runs: the runs, as from ``collect_runs``.
        sweep_dir: where to write.
        metrics: the metric columns, in order; ``None`` takes every metric any run logged.

    Returns:
        The markdown table (also written to ``summary.md``).
    """
    if metrics is None:
        metrics = sorted({name for run in runs for name in run.metrics})
    shared = set.intersection(*(set(run.overrides) for run in runs)) if len(runs) > 1 else set()
    header = ["job", "status", "overrides", *metrics]
    rows = [
        [
            run.job,
            run.status,
            " ".join(o for o in run.overrides if o not in shared),
            *(_format(run.metrics.get(m)) for m in metrics),
        ]
        for run in runs
    ]
    root = Path(sweep_dir)
    with open(root / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    table = "\n".join(lines) + "\n"
    (root / "summary.md").write_text(table)
    return table


class SweepSummaryCallback(Callback):
    """Hydra callback writing per-job results and the sweep's summary table.

    Args:
        metrics: metric columns of the summary, in order; ``None`` (default) takes them all.
    """

    def __init__(self, metrics: list[str] | None = None) -> None:
        self.metrics = list(metrics) if metrics is not None else None

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Write ``<run dir>/job_return.json`` (status, overrides, return value)."""
        hydra_cfg = job_return.hydra_cfg
        node = hydra_cfg.hydra if "hydra" in hydra_cfg else hydra_cfg
        out_dir = Path(node.runtime.output_dir)
        status = job_return.status.name
        value = job_return._return_value if status == "COMPLETED" else None
        record = {
            "status": status,
            "overrides": list(job_return.overrides or []),
            "optimized_metric": config.get("optimized_metric"),
            "return_value": value if isinstance(value, int | float) else None,
            "error": None if status == "COMPLETED" else repr(job_return._return_value),
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / JOB_RETURN_FILE).write_text(json.dumps(record, indent=2) + "\n")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Collect every run of the sweep and write ``summary.csv`` / ``summary.md``."""
        sweep_dir = Path(config.hydra.sweep.dir)
        runs = collect_runs(sweep_dir)
        if not runs:
            log.warning("Sweep summary: no run folders found under %s.", sweep_dir)
            return
        table = write_summary(runs, sweep_dir, self.metrics)
        log.info("Sweep summary (%d runs, %s/summary.csv):\n%s", len(runs), sweep_dir, table)
