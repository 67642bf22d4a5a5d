"""Training-clip throughput of one data-loader worker: mp4 reads, frame folders, a plain loader.

``python -m cyclecorr.benchmark data`` generates a Kinetics-like tree in a temporary folder
(H.264 ``yuv420p`` mp4s at ``crf 23``, ``--seconds`` long, 256 px short side, alternately 25 and
30 fps, x264's default key-frame interval of 250 frames, so a 10 s video has one or two key
frames; the pictures are ``cyclecorr.data.synthetic`` scenes: textured objects moving over a
panning background), prepares it with ``cyclecorr.data.tree_export`` (12 fps JPEG folders), and
serves the same TimeCycle training samples (``ClipSpec`` clips, ``SampleBuilder`` at the
release's 240 px crop) from

- (a) the mp4 files through ``VideoTreeDataset`` (one ``get_frames`` per clip; decord, PyAV, and
  torchcodec when the optional extra is installed),
- (b) the prepared frame folders through ``FrameListDataset``,
- (c) a plain PyAV loader written here: open the file, decode every frame to RGB, index the
  clip's frames (what a first loader usually does, e.g. ``torchvision.io.read_video``),

in one process with one torch thread, as a ``DataLoader`` worker runs (``num_workers=0``). The
loaders take turns in rounds so machine load hits them alike. (a) and (c) serve identical clips
(same manifest, same seeds); (b) draws its clips in 12 fps frame units.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from cyclecorr.data.frame_export import ExportSettings
from cyclecorr.data.synthetic.scene import SyntheticVideo, SyntheticVideoSpec
from cyclecorr.data.timecycle.sample_builder import SampleBuilder
from cyclecorr.data.transforms import resize_short_side
from cyclecorr.data.tree_export import export_tree
from cyclecorr.data.video_dataset import FrameListDataset, VideoClipDataset, VideoTreeDataset
from cyclecorr.data.video_writer import write_video

FRAME_RATES = (25.0, 30.0)


class PlainPyAVDataset(VideoClipDataset):
    """The baseline loader (c): decode every frame of the video to RGB, then index the clip."""

    def read_clip(self, video_id: int, rng: np.random.Generator) -> np.ndarray:
        """``(F, H, W, 3)`` uint8 frames of one clip, decoding the whole file."""
        import av

        info = self.videos[video_id]
        wanted = self.clip.frame_indices(info.num_frames, info.fps, rng)
        with av.open(info.path) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        frames = np.stack([decoded[min(i, len(decoded) - 1)] for i in wanted])  # (F, H, W, 3)
        return frames if self.short_side is None else resize_short_side(frames, self.short_side)


class GeneratedTree(NamedTuple):
    """The generated videos: paths, frame counts, key frames per video, size ``(W, H)``."""

    videos: list[Path]
    num_frames: list[int]
    key_frames: list[int]
    size: tuple[int, int]


def count_key_frames(path: Path) -> int:
    """Key frames of a video's first stream (demuxed, not decoded)."""
    import av

    with av.open(str(path)) as container:
        return sum(p.is_keyframe for p in container.demux(container.streams.video[0]) if p.size)


def make_kinetics_tree(
    root: Path, num_videos: int, seconds: float, short_side: int = 256, seed: int = 0
) -> GeneratedTree:
    """Write ``num_videos`` lossy mp4s, ``root/class_<c>/video_<i>.mp4``, 4:3 landscape."""
    width = int(round(short_side * 4 / 3 / 2)) * 2  # even, as 4:2:0 wants: 342 at 256
    videos, counts = [], []
    for i in range(num_videos):
        fps = FRAME_RATES[i % len(FRAME_RATES)]
        num_frames = int(round(seconds * fps))
        spec = SyntheticVideoSpec(
            height=short_side, width=width, num_frames=num_frames, num_objects=4, seed=(seed, i)
        )
        scene = SyntheticVideo(spec)
        frames = np.stack([scene.render(t).image for t in range(num_frames)])  # (T, H, W, 3)
        path = root / f"class_{i % 3}" / f"video_{i:03d}.mp4"
        videos.append(write_video(frames, path, fps=fps, lossless=False))
        counts.append(num_frames)
    keys = [count_key_frames(path) for path in videos]
    return GeneratedTree(videos, counts, keys, (width, short_side))


def mp4_backends() -> tuple[list[str], dict[str, str]]:
    """The reader backends to time on the mp4s, and the loaders skipped (key -> why)."""
    from cyclecorr.data.readers.factory import decord_available, torchcodec_available

    backends = (["decord"] if decord_available() else []) + ["pyav"]
    skipped: dict[str, str] = {}
    if torchcodec_available():
        backends.append("torchcodec")
    else:
        skipped["mp4_torchcodec"] = (
            "torchcodec is not installed (pip install cyclecorr[torchcodec])"
        )
    return backends, skipped


def clips_per_second(
    loaders: dict[str, Callable[[int], Any]], clips: int, rounds: int = 3, warmup: int = 2
) -> dict[str, float]:
    """Items per second of every loader (``loader(draw)``), the loaders taking turns in rounds.

    Every loader serves draws ``0 .. clips-1`` (after ``warmup`` untimed draws of their own).
    """
    for loader in loaders.values():
        for draw in range(warmup):
            loader(clips + draw)
    seconds = dict.fromkeys(loaders, 0.0)
    bounds = np.linspace(0, clips, rounds + 1).astype(int)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        for name, loader in loaders.items():
            begin = time.perf_counter()
            for draw in range(start, stop):
                loader(draw)
            seconds[name] += time.perf_counter() - begin
    return {name: clips / max(spent, 1e-9) for name, spent in seconds.items()}


def bench_data(
    num_videos: int = 6,
    seconds: float = 10.0,
    clips: int = 30,
    crop_size: int = 240,
    short_side: int = 256,
    prepare_workers: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """Generate, prepare and read a tree; returns clips/s per loader and the setup it ran.

    Returns:
        ``clips_per_second`` (``"mp4_decord"`` when decord is installed, ``"mp4_pyav"``,
        ``"mp4_torchcodec"`` when torchcodec is installed, ``"frames"``, ``"plain_pyav"``),
        ``skipped`` (loader -> why it did not run), ``prepare_seconds``, ``prepared_frames``,
        the ``tree`` (``GeneratedTree``) and the sizes used.
    """
    backends, skipped = mp4_backends()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a DataLoader worker runs with
    try:
        with tempfile.TemporaryDirectory(prefix="cyclecorr-bench-data-") as tmp:
            root, out = Path(tmp) / "videos", Path(tmp) / "frames"
            tree = make_kinetics_tree(root, num_videos, seconds, short_side, seed)
            begin = time.perf_counter()
            settings = ExportSettings(fps=12.0, short_side=short_side)
            prepared = export_tree(root, out, settings, prepare_workers, progress=False)
            prepare_seconds = time.perf_counter() - begin
            builder = SampleBuilder(crop_size=crop_size)
            common: dict[str, Any] = {"builder": builder, "short_side": short_side, "seed": seed}
            tree_kw: dict[str, Any] = {**common, "progress": False, "scan_workers": 1}
            mp4 = {b: VideoTreeDataset(root, backend=b, **tree_kw) for b in backends}
            frames = FrameListDataset(prepared.frame_list, **tree_kw)
            plain = PlainPyAVDataset(next(iter(mp4.values())).videos, **common)
            loaders = {f"mp4_{b}": dataset.__getitem__ for b, dataset in mp4.items()}
            loaders |= {"frames": frames.__getitem__, "plain_pyav": plain.__getitem__}
            rates = clips_per_second(loaders, clips)
    finally:
        torch.set_num_threads(threads)
    return {
        "clips_per_second": rates,
        "skipped": skipped,
        "prepare_seconds": prepare_seconds,
        "prepared_frames": sum(r.num_frames for r in prepared.results),
        "tree": tree,
        "crop_size": crop_size,
        "short_side": short_side,
        "clips": clips,
    }
