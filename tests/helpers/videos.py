"""Small real video files for tests: a moving square as H.264, a Kinetics-layout tree, bad files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

INDICES = [5, 0, 39, 5, 17, 18]  # frame reads that are unordered, repeated, first and last


def write_moving_square(
    path: Path, num_frames: int = 40, height: int = 80, width: int = 96
) -> None:
    """A small H.264 video of a square moving right and down on black (``(255, 200, 50)``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(num_frames):
            image = np.zeros((height, width, 3), np.uint8)
            image[10 + t // 2 : 30 + t // 2, 5 + t : 25 + t] = (255, 200, 50)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_kinetics_tree(root: Path, num_videos: int = 3) -> Path:
    """``<root>/<class>/<video>.mp4``, Kinetics layout: ``num_videos`` moving squares."""
    for i in range(num_videos):
        write_moving_square(root / f"class_{i % 2}" / f"video_{i}.mp4", num_frames=36 + 4 * i)
    return root


def bad_files(folder: Path, good: Path) -> dict[str, Path]:
    """A missing path, an empty file, random bytes and a truncated copy of ``good``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "random.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    return {name: folder / f"{name}.mp4" for name in ("missing", "empty", "random", "truncated")}
