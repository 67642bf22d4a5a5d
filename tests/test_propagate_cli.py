"""``python -m cyclecorr.propagate`` on a small generated mp4 (moving square, known masks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def moving_square(num_frames: int = 8, h: int = 48, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 of a red 16x16 square moving 2 px/frame right; masks (T, H, W)."""
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([40 + 2 * xx, 80 + 3 * yy, 160 + 0 * xx], axis=-1).astype(np.uint8)
    frames, masks = [], []
    for t in range(num_frames):
        mask = (yy >= 16) & (yy < 32) & (xx >= 8 + 2 * t) & (xx < 24 + 2 * t)
        frame = background.copy()
        frame[mask] = (230, 30, 30)
        frames.append(frame)
        masks.append(mask.astype(np.uint8))
    return np.stack(frames), np.stack(masks)


def test_propagate_cli_on_generated_mp4(tmp_path: Path) -> None:
    from cyclecorr.data.davis_format import read_annotation, write_annotation
    from cyclecorr.data.video_writer import write_video

    frames, masks = moving_square()
    video = write_video(frames, tmp_path / "clip.mp4", fps=10.0, lossless=True)
    # The mask is given at half resolution: the CLI must resize it (nearest) and say so.
    half = np.asarray(Image.fromarray(masks[0]).resize((32, 24), Image.Resampling.NEAREST))
    write_annotation(tmp_path / "first.png", half)
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "cyclecorr.propagate",
        f"video={video}", f"mask={tmp_path / 'first.png'}", f"out={out}",
        "encoder=pixels", "protocol.size=96", "device=cpu", "progress=false",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resizing it with nearest neighbour" in result.stdout + result.stderr
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == [f"{t:05d}.png" for t in range(8)]
    assert (out / "overlay.mp4").stat().st_size > 0
    last = read_annotation(pngs[-1])
    assert last.shape == (48, 64) and set(np.unique(last)) <= {0, 1}
    inter = np.logical_and(last == 1, masks[-1] == 1).sum()
    union = np.logical_or(last == 1, masks[-1] == 1).sum()
    assert inter / union > 0.6  # the square moved 14 px; copying the first mask scores 0.07
