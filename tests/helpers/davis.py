"""DAVIS-layout trees for tests, generated with known masks."""

from __future__ import annotations

from pathlib import Path


def make_davis_tree(root: Path, num_videos: int = 2, num_frames: int = 6) -> list[str]:
    """Write ``num_videos`` generated 64x64 sequences (2 objects), DAVIS layout; their names."""
    from cyclecorr.data.synthetic.davis_export import write_synthetic_davis
    from cyclecorr.data.synthetic.scene import SyntheticVideoSpec

    spec = SyntheticVideoSpec(height=64, width=64, num_frames=num_frames, num_objects=2)
    return write_synthetic_davis(root, num_videos, spec, seed=7, progress=False)
