"""SLURM path through submitit's local executor: the job is pickled, run in its own process in a
stable folder (<sweep dir>/<job num>), and relaunching the same sweep with resume=true (what a
requeue after preemption does: same pickled job, same folder) continues from its last.ckpt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from cyclecorr.utils.config import CONF_DIR, register_resolvers


def test_slurm_launcher_preset_follows_the_trainer() -> None:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=["hydra/launcher=submitit_slurm", "trainer=ddp", "trainer.num_nodes=2"],
            return_hydra_config=True,
        )
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith("SlurmLauncher")  # type: ignore[index]
    assert cfg.hydra.launcher.nodes == 2
    assert cfg.hydra.launcher.tasks_per_node == cfg.hydra.launcher.gpus_per_node == 4
    assert cfg.hydra.launcher.max_num_timeout > 0 and cfg.hydra.launcher.partition is None
    assert cfg.trainer.strategy._target_.endswith("DDPStrategy")


@pytest.mark.slow
def test_submitit_local_runs_and_a_relaunch_resumes(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    base = [sys.executable, "-m", "cyclecorr.train", "-m", "hydra/launcher=submitit_local"]
    base += ["debug=tiny", "trainer.accelerator=cpu", "trainer.limit_val_batches=0"]
    base += ["validate_before_training=false", "callbacks.best_checkpoint=null"]
    base += ["callbacks.model_checkpoint.every_n_train_steps=2", "resume=true"]
    base += [f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    for max_steps in (2, 4):  # first start, then the "requeued" job
        cmd = [*base, f"trainer.max_steps={max_steps}"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        ckpt = torch.load(
            sweep / "0" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
        )
        assert ckpt["global_step"] == max_steps
    assert list((sweep / ".submitit").iterdir()), "submitit job folders"
    log = (sweep / "0" / "train.log").read_text()
    assert "resume=true: resuming from" in log and "starting a fresh run" in log
    assert json.loads((sweep / "0" / "job_return.json").read_text())["status"] == "COMPLETED"
    assert (sweep / "summary.csv").is_file()
