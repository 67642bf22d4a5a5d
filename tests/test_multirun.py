"""Sweeps: each run of a Hydra multirun in its own folder, then one summary table of the runs'
final metrics (summary.csv / summary.md) in the sweep folder, failed runs included."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra.core.utils import JobStatus
from omegaconf import OmegaConf

from cyclecorr.utils.sweep_summary import (
    SweepSummaryCallback,
    collect_runs,
    last_values,
    write_summary,
)


def fake_run(sweep: Path, num: int, overrides: list[str], rows: list[dict[str, str]]) -> Path:
    run = sweep / str(num)
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    with open(run / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["epoch", "step", "train/loss", "val/err"])
        writer.writeheader()
        writer.writerows(rows)
    return run


def test_last_values_takes_last_non_empty_value(tmp_path: Path) -> None:
    run = fake_run(
        tmp_path,
        0,
        [],
        [
            {"epoch": "0", "step": "1", "train/loss": "2.0", "val/err": ""},
            {"epoch": "0", "step": "2", "train/loss": "", "val/err": "9.5"},
            {"epoch": "0", "step": "3", "train/loss": "1.5", "val/err": ""},
        ],
    )
    assert last_values(run / "metrics.csv") == {"train/loss": 1.5, "val/err": 9.5}
    assert last_values(tmp_path / "missing.csv") == {}


def test_summary_table_over_runs_in_job_order(tmp_path: Path) -> None:
    for num in (10, 2, 1):  # job 10 must sort after job 2
        overrides = ["debug=tiny", f"lr={num}"]  # the shared override is left out of the table
        fake_run(tmp_path, num, overrides, [{"step": "1", "train/loss": f"{num}.0"}])
    (tmp_path / ".submitit").mkdir()  # not a run
    runs = collect_runs(tmp_path)
    assert [r.job for r in runs] == ["1", "2", "10"]
    table = write_summary(runs, tmp_path, ["train/loss", "val/err"])
    with open(tmp_path / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["job"], r["overrides"], r["train/loss"], r["val/err"]) for r in rows] == [
        ("1", "lr=1", "1", ""),
        ("2", "lr=2", "2", ""),
        ("10", "lr=10", "10", ""),
    ]
    assert table.splitlines()[0] == "| job | status | overrides | train/loss | val/err |"
    assert (tmp_path / "summary.md").read_text() == table


def test_job_end_records_status_and_return_value(tmp_path: Path) -> None:
    callback = SweepSummaryCallback()
    config = OmegaConf.create({"optimized_metric": "val/err"})
    for num, status, value in ((0, JobStatus.COMPLETED, 3.25), (1, JobStatus.FAILED, ValueError())):
        out = tmp_path / str(num)
        (out / ".hydra").mkdir(parents=True)
        job = SimpleNamespace(
            hydra_cfg=OmegaConf.create({"runtime": {"output_dir": str(out)}}),
            status=status,
            _return_value=value,
            overrides=[f"x={num}"],
        )
        callback.on_job_end(config, job)
    record = json.loads((tmp_path / "0" / "job_return.json").read_text())
    assert record["status"] == "COMPLETED" and record["return_value"] == 3.25
    runs = collect_runs(tmp_path)
    assert [(r.status, r.metrics) for r in runs] == [
        ("COMPLETED", {"val/err": 3.25}),
        ("FAILED", {}),
    ]
    callback.on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    assert (tmp_path / "summary.csv").read_text().count("\n") == 3


@pytest.mark.slow
def test_multirun_writes_one_folder_per_run_and_a_summary(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "cyclecorr.train", "-m", "debug=tiny", "trainer.accelerator=cpu"]
    cmd += [
        "model.optimizer.lr=0.0001,0.0003",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
    ]
    cmd += ["validate_before_training=false", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for num in (0, 1):
        assert (sweep / str(num) / "checkpoints" / "last.ckpt").is_file()
        assert (sweep / str(num) / "metrics.csv").is_file()
    with open(sweep / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["overrides"] for r in rows] == [
        "model.optimizer.lr=0.0001",
        "model.optimizer.lr=0.0003",
    ]
    assert len({r["lr-Adam"] for r in rows}) == 2
    assert all(r["status"] == "COMPLETED" for r in rows)
    assert all(float(r["val/theta_err_px"]) > 0 for r in rows)
    # one cosine schedule scaled by each run's base lr: the logged lrs keep the ratio 3
    lrs = [float(r["lr-Adam"]) for r in rows]
    assert 0 < lrs[0] <= 1e-4 and lrs[1] == pytest.approx(3 * lrs[0], rel=1e-5)
    assert "val/theta_err_px" in (sweep / "summary.md").read_text()
