"""AtomicCheckpointIO: a checkpoint write interrupted by an exception or SIGKILL never leaves a
corrupt target; temp files of killed writers are cleared by the next save."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from cyclecorr.utils.checkpoint_io import (
    AtomicCheckpointIO,
    atomic_torch_save,
    remove_stale_temp_files,
)


class ExplodesWhenPickled:
    """Pickling this raises, after torch.save has opened (and started) the file."""

    def __reduce__(self) -> tuple:
        raise RuntimeError("simulated crash mid-write")


def test_save_then_load_round_trip(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"global_step": 7, "w": torch.arange(5.0)}, path)
    loaded = io.load_checkpoint(path)
    assert loaded["global_step"] == 7
    assert torch.equal(loaded["w"], torch.arange(5.0))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


def test_exception_mid_write_keeps_previous_checkpoint(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.ones(3)}, path)
    with pytest.raises(RuntimeError, match="simulated crash"):
        io.save_checkpoint({"global_step": 2, "bad": ExplodesWhenPickled()}, path)
    loaded = io.load_checkpoint(path)
    assert loaded["global_step"] == 1
    assert torch.equal(loaded["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # temp file removed


def test_storage_options_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="storage_options=None"):
        AtomicCheckpointIO().save_checkpoint({}, tmp_path / "x.ckpt", storage_options={"a": 1})


WRITER = textwrap.dedent(
    """
    import sys, time, pathlib, torch
    from cyclecorr.utils.checkpoint_io import AtomicCheckpointIO

    class Hang:
        def __reduce__(self):
            pathlib.Path(sys.argv[2]).write_text("writing")
            time.sleep(120)
            return (int, (0,))

    big = torch.randn(256, 256)
    AtomicCheckpointIO().save_checkpoint({"global_step": 2, "big": big, "h": Hang()}, sys.argv[1])
    """
)


def test_sigkill_mid_write_leaves_last_ckpt_loadable(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.full((4,), 3.0)}, path)
    marker = tmp_path / "writing.flag"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "writer exited before reaching the write"
            assert time.monotonic() < deadline, "writer never started writing"
            time.sleep(0.05)
        stale = [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
        assert len(stale) == 1, "the writer should be writing a temp file beside the target"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    loaded = io.load_checkpoint(path)  # the old checkpoint, whole
    assert loaded["global_step"] == 1
    assert torch.equal(loaded["w"], torch.full((4,), 3.0))
    # the next save clears the killed writer's temp file
    io.save_checkpoint({"global_step": 3}, path)
    assert [p.name for p in tmp_path.iterdir() if p.name != marker.name] == ["last.ckpt"]
    assert io.load_checkpoint(path)["global_step"] == 3


def test_remove_stale_temp_files_only_touches_temp_files(tmp_path: Path) -> None:
    (tmp_path / ".last.ckpt.tmp-123").write_bytes(b"partial")
    (tmp_path / "last.ckpt").write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"y")
    removed = remove_stale_temp_files(tmp_path)
    assert [p.name for p in removed] == [".last.ckpt.tmp-123"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "last.ckpt"]
    assert remove_stale_temp_files(tmp_path / "missing") == []


def test_atomic_torch_save_overwrites(tmp_path: Path) -> None:
    path = atomic_torch_save({"a": 1}, tmp_path / "f.pt")
    atomic_torch_save({"a": 2}, path)
    assert torch.load(path, weights_only=True) == {"a": 2}
