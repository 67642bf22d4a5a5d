"""DDP on CPU (2 processes, gloo): the same path as multi-GPU training. The global batch is split
across ranks, and over one epoch the union of the clips each rank trained on is the whole epoch
with no clip on two ranks (recorded by cyclecorr.callbacks.index_recorder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

NUM_VIDEOS, GLOBAL_BATCH, WORLD = 8, 4, 2
RECORDER = "cyclecorr.callbacks.index_recorder.IndexRecorder"


@pytest.mark.ddp
@pytest.mark.slow
def test_ddp_cpu_sim_shards_one_epoch_without_duplicates(tmp_path: Path) -> None:
    run_dir, idx_dir = tmp_path / "run", tmp_path / "indices"
    steps = NUM_VIDEOS // GLOBAL_BATCH  # exactly one epoch
    cmd = [sys.executable, "-m", "cyclecorr.train", "trainer=ddp_cpu_sim", "debug=tiny"]
    cmd += [f"data.batch_size={GLOBAL_BATCH}", f"trainer.max_steps={steps}"]
    cmd += [f"data.datamodule.train_dataset.num_videos={NUM_VIDEOS}"]
    cmd += ["trainer.limit_val_batches=0", "validate_before_training=false"]
    cmd += ["callbacks.model_checkpoint.every_n_train_steps=1"]
    cmd += [f"+callbacks.index_recorder._target_={RECORDER}"]
    cmd += [f"+callbacks.index_recorder.folder={idx_dir}", f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]

    per_rank = [
        [int(x) for x in (idx_dir / f"rank{r}.txt").read_text().split()] for r in range(WORLD)
    ]
    # each rank loads global_batch / world clips per step
    assert [len(ids) for ids in per_rank] == [steps * GLOBAL_BATCH // WORLD] * WORLD
    union = [i for ids in per_rank for i in ids]
    assert sorted(union) == list(range(NUM_VIDEOS)), "one epoch = every draw exactly once"
    assert not set(per_rank[0]) & set(per_rank[1]), "no clip on two ranks"

    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == steps
