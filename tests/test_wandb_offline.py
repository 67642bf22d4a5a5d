"""W&B without credentials: a real training run writes an offline run whose history holds the
loss terms, lr, throughput and data-wait fraction, whose config holds the resolved config, and
whose files/media holds the cycle images. The .wandb file is read with wandb's own protobufs."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from cyclecorr.utils.wandb_logger import resolve_offline, run_id_for

BLOCK = 32768  # the .wandb file is a LevelDB-style log of 32 KiB blocks
HEADER = 7  # ":W&B" + magic (2 bytes) + version (1 byte); each chunk has a 7-byte header too


def read_wandb_records(path: Path) -> list[bytes]:
    """Reassemble the record payloads of a .wandb transaction log."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, records, partial = HEADER, [], b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 1:  # full
            records.append(chunk)
        elif kind == 2:  # first
            partial = chunk
        elif kind == 3:  # middle
            partial += chunk
        elif kind == 4:  # last
            records.append(partial + chunk)
    return records


def parse_run(path: Path) -> tuple[list[dict], set[str]]:
    """(history rows as {key: value}, every config key) of an offline run."""
    from wandb.proto import wandb_internal_pb2 as pb

    history, config_keys = [], set()
    for payload in read_wandb_records(path):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = record.history.item  # keys with "/" are stored as nested_key parts
            history.append(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}
            )
        elif kind == "config":
            config_keys |= {i.key or "/".join(i.nested_key) for i in record.config.update}
    return history, config_keys


def test_offline_decision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_offline(None) is True  # no credentials -> offline
    assert resolve_offline(False) is False
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_offline(None) is False
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_offline(None) is True
    assert run_id_for(tmp_path / "a") == run_id_for(tmp_path / "a" / ".." / "a")
    assert run_id_for(tmp_path / "a") != run_id_for(tmp_path / "b")


@pytest.mark.slow
def test_offline_run_holds_scalars_config_and_media(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "cyclecorr.train", "debug=tiny", "trainer.accelerator=cpu"]
    cmd += ["logger=wandb", "callbacks=wandb", "callbacks.cycle_viz.every_n_steps=2"]
    cmd += ["callbacks.throughput.window=1", f"callbacks.davis_probe.davis_root={tmp_path}/none"]
    cmd += ["validate_before_training=false", f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HOME": str(tmp_path), "WANDB_SILENT": "true"}
    env.pop("WANDB_API_KEY", None)
    env.pop("WANDB_MODE", None)  # offline must come from "no API key", not from the env
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DAVIS probe skipped" in proc.stderr
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, "expected exactly one offline W&B run"
    run = runs[0]
    assert run.name.endswith(run_id_for(run_dir))
    history, config_keys = parse_run(next(run.glob("run-*.wandb")))
    keys = set().union(*history)
    for name in ("train/loss", "train/sim/1", "train/skip/1", "train/long/1", "lr-Adam"):
        assert name in keys, f"{name} not in the W&B history"
    waits = [row["perf/data_wait_frac"] for row in history if "perf/data_wait_frac" in row]
    speeds = [row["perf/clips_per_s"] for row in history if "perf/clips_per_s" in row]
    assert waits and all(0.0 <= w <= 1.0 for w in waits)
    assert speeds and all(s > 0 for s in speeds)
    assert {"model", "data", "trainer", "seed"} <= config_keys  # the full resolved config
    # media values are flattened into nested keys: viz/cycle/_type, viz/cycle/count, ...
    images = [row for row in history if row.get("viz/cycle/_type") == "images/separated"]
    assert len(images) == 2 and all(row["viz/cycle/count"] == 2 for row in images)
    media = list((run / "files" / "media" / "images" / "viz").glob("cycle_*.png"))
    assert len(media) == 4, "2 clips at steps 2 and 4"
