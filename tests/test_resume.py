"""Crash safety: a training run killed with SIGKILL mid-epoch, then relaunched with resume=true,
continues from its last checkpoint with the same global step, optimizer, and sampler position:
its losses after the checkpoint equal those of an uninterrupted run, step for step."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

BASE = [sys.executable, "-m", "cyclecorr.train", "debug=tiny", "trainer.accelerator=cpu"]
BASE += ["trainer.limit_val_batches=0", "validate_before_training=false"]
BASE += ["callbacks.model_checkpoint.every_n_train_steps=2", "callbacks.best_checkpoint=null"]
# the default cosine schedule spans trainer.max_steps; a fixed span keeps the killed, resumed and
# uninterrupted runs on one schedule (and the scheduler state must survive the resume)
BASE += ["model.scheduler.T_max=1000"]
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}


def losses_by_step(run_dir: Path) -> dict[int, float]:
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {int(r["step"]): float(r["train/loss"]) for r in rows if r.get("train/loss")}


def run_until_killed(run_dir: Path, min_step: int) -> None:
    """Start a long run; SIGKILL it once a periodic checkpoint at >= min_step exists."""
    cmd = [*BASE, "trainer.max_steps=100000", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = run_dir / "checkpoints" / f"step_{min_step:07d}.ckpt"
    try:
        deadline = time.monotonic() + 240
        while not target.exists():
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode()[-3000:] if proc.stderr else "")
            assert time.monotonic() < deadline, "no periodic checkpoint within 240 s"
            time.sleep(0.1)
        time.sleep(0.3)  # let it get into the next steps (and maybe the next write)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_kill9_then_resume_continues_the_same_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_until_killed(run_dir, min_step=4)
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    step = int(ckpt["global_step"])
    assert step >= 4 and step % 2 == 0, "last.ckpt is a whole periodic checkpoint"
    assert ckpt["optimizer_states"][0]["state"], "optimizer moments are saved"
    extra = 4  # even: the final step is a periodic save, so last.ckpt holds it
    resume = [*BASE, f"trainer.max_steps={step + extra}", "resume=true", f"hydra.run.dir={run_dir}"]
    proc = subprocess.run(resume, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming from" in proc.stderr + proc.stdout
    resumed = torch.load(
        run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    assert resumed["global_step"] == step + extra
    adam_steps = {float(s["step"]) for s in resumed["optimizer_states"][0]["state"].values()}
    assert adam_steps <= {float(step + extra)}, "Adam's step counter continued, not restarted"

    reference_dir = tmp_path / "reference"
    ref = [*BASE, f"trainer.max_steps={step + extra}", f"hydra.run.dir={reference_dir}"]
    proc = subprocess.run(ref, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after, expected = losses_by_step(run_dir), losses_by_step(reference_dir)
    assert min(after) >= step, "the resumed run starts at the checkpoint's step"
    assert len(after) >= extra - 1, "the resumed run logged its steps"
    for s, loss in after.items():  # same weights, moments and clips => same losses
        assert loss == pytest.approx(expected[s], rel=1e-4, abs=1e-6), f"step {s}"
