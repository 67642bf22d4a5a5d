"""Export generated video (``cyclecorr.data.synthetic.scene``) as a DAVIS-2017-layout tree.

Evaluation on generated video reuses the DAVIS reader and metrics unchanged:

    <root>/JPEGImages/480p/<name>/%05d.jpg      frames (the "480p" folder name is only layout)
    <root>/Annotations/480p/<name>/%05d.png     palette PNG (mode "P"), ids 0..num_objects
    <root>/ImageSets/2017/val.txt               one sequence name per line
    <root>/Tracks/<name>.npz                    tracks (T, N, 2) xy, visible (T, N), track_ids (N,)
    <root>/videos/<name>.mp4                    optional, via ``cyclecorr.data.video_writer``

The palette is the PASCAL VOC colour map that DAVIS annotations carry (id 1 red, 2 green, ...).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from cyclecorr.data.davis_format import davis_palette
from cyclecorr.data.synthetic.scene import SyntheticVideo, SyntheticVideoSpec

VAL_SEED_SALT = 1  # val videos use seed [seed, i, 1]; training datasets use [seed, video_id, 2]


class SequencePaths(NamedTuple):
    """Where one exported sequence was written (``video`` is None when no mp4 was asked)."""

    frames_dir: Path
    masks_dir: Path
    tracks: Path
    video: Path | None


def write_synthetic_sequence(
    spec: SyntheticVideoSpec,
    root: str | Path,
    name: str,
    *,
    fps: float = 24.0,
    write_mp4: bool = True,
    jpeg_quality: int = 95,
) -> SequencePaths:
    """Render the video of ``spec`` and write it as DAVIS sequence ``name`` under ``root``.

    Args:
        spec: the video (its ``seed`` picks the scene).
        root: DAVIS root folder (created if missing).
        name: sequence name (a folder name).
        fps: frame rate of the optional mp4.
        write_mp4: also write ``videos/<name>.mp4`` (lossless) with ``write_video``.
        jpeg_quality: JPEG quality of the frames (DAVIS JPEGs are about 90).

    Returns:
        ``SequencePaths`` of what was written.
    """
    root = Path(root)
    video = SyntheticVideo(spec)
    frames_dir = root / "JPEGImages" / "480p" / name
    masks_dir = root / "Annotations" / "480p" / name
    frames_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    palette = davis_palette()
    images = []
    for t in range(spec.num_frames):
        frame = video.render(t)
        images.append(frame.image)
        Image.fromarray(frame.image).save(frames_dir / f"{t:05d}.jpg", quality=jpeg_quality)
        mask = Image.fromarray(frame.mask, mode="P")
        mask.putpalette(palette)
        mask.save(masks_dir / f"{t:05d}.png")
    tracks_path = root / "Tracks" / f"{name}.npz"
    tracks_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        tracks_path,
        tracks=np.stack([video.tracks(t) for t in range(spec.num_frames)]),  # (T, N, 2)
        visible=np.stack([video.visible(t) for t in range(spec.num_frames)]),  # (T, N)
        track_ids=video.track_ids,
    )
    mp4_path = None
    if write_mp4:
        from cyclecorr.data.video_writer import write_video

        mp4_path = root / "videos" / f"{name}.mp4"
        mp4_path.parent.mkdir(parents=True, exist_ok=True)
        write_video(np.stack(images), mp4_path, fps=fps, lossless=True)  # (T, H, W, 3)
    return SequencePaths(frames_dir, masks_dir, tracks_path, mp4_path)


def write_synthetic_davis(
    root: str | Path,
    num_videos: int,
    spec: SyntheticVideoSpec,
    seed: int,
    *,
    write_mp4: bool = False,
    progress: bool = True,
) -> list[str]:
    """Write ``num_videos`` held-out generated videos as a DAVIS-2017 "val" tree.

    Video ``i`` is named ``synth-<seed>-<i:04d>`` and uses ``spec`` with its seed replaced by
    ``(seed, i, VAL_SEED_SALT)``: it never equals a training video of ``SyntheticClipDataset``,
    whose scenes are seeded by ``(seed, video_id)``, whatever the two seeds are.

    Args:
        root: DAVIS root folder (created if missing).
        num_videos: number of sequences (>= 1).
        spec: video parameters shared by all sequences (``spec.seed`` is ignored).
        seed: seed of this set of videos.
        write_mp4: also write ``videos/<name>.mp4`` per sequence.
        progress: show a progress bar.

    Returns:
        The sequence names, as listed in ``ImageSets/2017/val.txt``.
    """
    if num_videos < 1:
        raise ValueError(
            f"{__name__}: num_videos must be >= 1, found {num_videos}; "
            "ask for at least one sequence."
        )
    root = Path(root)
    names = [f"synth-{seed}-{index:04d}" for index in range(num_videos)]
    for index, name in enumerate(tqdm(names, desc="synthetic DAVIS", disable=not progress)):
        video_spec = dataclasses.replace(spec, seed=(seed, index, VAL_SEED_SALT))
        write_synthetic_sequence(video_spec, root, name, write_mp4=write_mp4)
    image_sets = root / "ImageSets" / "2017"
    image_sets.mkdir(parents=True, exist_ok=True)
    (image_sets / "val.txt").write_text("".join(f"{name}\n" for name in names))
    return names
