"""Tests for the training entry point: a real subprocess run, resuming, clear data errors."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from cyclecorr.train import train
from cyclecorr.utils.config import (
    CONF_DIR,
    choose_resume_checkpoint,
    keep_previous_metrics,
    register_resolvers,
)
from helpers.videos import make_kinetics_tree

TINY_RUN = [
    "debug=tiny",
    "data.short_side=80",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
]


def compose_train(overrides: list[str]) -> DictConfig:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_train_subprocess_from_another_cwd_writes_checkpoint_and_metrics(tmp_path: Path) -> None:
    root = make_kinetics_tree(tmp_path / "kinetics")
    run_dir = tmp_path / "run"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    cmd = [sys.executable, "-m", "cyclecorr.train", "experiment=kinetics", f"data.root={root}"]
    cmd += ["trainer.max_steps=2", *TINY_RUN, f"hydra.run.dir={run_dir}"]
    cmd += [f"paths.cache_dir={tmp_path / 'cache'}"]
    cmd += ["trainer.limit_val_batches=1"]
    # one intra-op thread: on a small shared CPU, spinning OpenMP threads slow this run tenfold
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    last = run_dir / "checkpoints" / "last.ckpt"
    assert last.is_file()
    ckpt = torch.load(last, map_location="cpu", weights_only=True)  # evaluation's loading mode
    assert ckpt["global_step"] == 2
    assert any(key.startswith("encoder.") for key in ckpt["state_dict"])

    rows = read_metrics(run_dir / "metrics.csv")
    val_rows = [r for r in rows if r.get("val/theta_err_px")]
    assert len(val_rows) >= 2  # before training, and after step 2 (debug val_check_interval)
    assert val_rows[0]["step"] == "0"
    assert all(np.isfinite(float(r["val/theta_err_px"])) for r in val_rows)
    assert any(r.get("train/loss") for r in rows)
    assert not (cwd / "logs").exists() and not (cwd / "outputs").exists()


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    cfg = compose_train(
        ["experiment=kinetics", f"data.root={tmp_path / 'nope'}", *TINY_RUN]
        + [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    )
    with pytest.raises(Exception, match="nope") as info:
        train(cfg)
    assert "exist" in str(info.value).lower() or "not found" in str(info.value).lower()


def test_empty_root_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cfg = compose_train(
        ["experiment=kinetics", f"data.root={tmp_path / 'empty'}", *TINY_RUN]
        + [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    )
    with pytest.raises(Exception, match="empty") as info:
        train(cfg)
    assert "video" in str(info.value).lower()


def test_seed_zero_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lightning.pytorch as pl

    seeds: list[int] = []
    monkeypatch.setattr(pl, "seed_everything", lambda seed, workers=False: seeds.append(seed))
    cfg = compose_train(
        ["seed=0", "experiment=kinetics", f"data.root={tmp_path / 'nope'}", *TINY_RUN]
        + [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    )
    with pytest.raises(Exception, match="nope"):
        train(cfg)  # fails at the data, after seeding
    assert seeds == [0]


# ------------------------------------------------------------------ resume
def test_resume_uses_last_checkpoint_when_present(tmp_path: Path) -> None:
    fresh = choose_resume_checkpoint(True, None, tmp_path)
    assert fresh.ckpt_path is None and "starting a fresh run" in fresh.message
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"x")
    assert choose_resume_checkpoint(True, None, tmp_path).ckpt_path == str(last)
    assert choose_resume_checkpoint(False, None, tmp_path).ckpt_path is None


def test_explicit_ckpt_path_wins_and_must_exist(tmp_path: Path) -> None:
    other = tmp_path / "other.ckpt"
    other.write_bytes(b"x")
    assert choose_resume_checkpoint(True, str(other), tmp_path).ckpt_path == str(other)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        choose_resume_checkpoint(False, str(tmp_path / "missing.ckpt"), tmp_path)


def test_previous_metrics_are_kept_on_resume(tmp_path: Path) -> None:
    assert keep_previous_metrics(tmp_path) is None
    (tmp_path / "metrics.csv").write_text("step\n1\n")
    assert keep_previous_metrics(tmp_path) == tmp_path / "metrics.0.csv"
    (tmp_path / "metrics.csv").write_text("step\n2\n")
    assert keep_previous_metrics(tmp_path) == tmp_path / "metrics.1.csv"
    assert (tmp_path / "metrics.0.csv").read_text() == "step\n1\n"
    assert not (tmp_path / "metrics.csv").exists()
