"""``python -m cyclecorr.prepare --root videos/ --out frames/``: a video tree -> what VLOG was.

Writes the release's training data layout (``cyclecorr.data.tree_export``): every video's frames
at ``--fps`` (12) with short side ``--short-side`` (256) as ``<out>/<relative path without
suffix>/000001.jpg ...``, the frame list ``<out>/frame_list.txt`` and ``<out>/bad_videos.txt``.
Train on the result with::

    python -m cyclecorr.train experiment=vlog data.list_file=<out>/frame_list.txt

Videos are exported by ``--workers`` processes with a progress bar; a re-run skips finished
videos (resume after an interruption, or add videos), and a bad video is listed, never fatal.
A plain argparse CLI: it builds nothing from config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cyclecorr.data.frame_export import ExportSettings
from cyclecorr.data.tree_export import export_tree

_BAD_SHOWN = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``python -m cyclecorr.prepare --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m cyclecorr.prepare",
        description="Export a video tree to JPEG frame folders and a frame list (VLOG layout).",
    )
    parser.add_argument("--root", type=Path, required=True, help="folder of videos, any depth")
    parser.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    parser.add_argument("--fps", type=float, default=12.0, help="output frame rate (12)")
    parser.add_argument("--short-side", type=int, default=256, help="output short side (256)")
    parser.add_argument("--workers", type=int, default=2, help="decoding processes (2)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality 1..95 (95)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Export the tree and print a summary (counts, the two lists, the first bad videos)."""
    args = parse_args(argv)
    settings = ExportSettings(fps=args.fps, short_side=args.short_side, quality=args.quality)
    result = export_tree(
        args.root, args.out, settings, workers=args.workers, progress=not args.no_progress
    )
    resumed = sum(r.resumed for r in result.results)
    done = sum(r.error is None for r in result.results)
    print(f"videos:     {len(result.results)} found under {args.root}")
    print(f"exported:   {done - resumed} now, {resumed} already done (skipped)")
    print(f"bad:        {len(result.bad)} (listed in {result.bad_list})")
    for bad in result.bad[:_BAD_SHOWN]:
        print(f"  {bad.relative}: {bad.error}")
    print(f"frame list: {result.frame_list} ({done} videos)")
    command = f"python -m cyclecorr.train experiment=vlog data.list_file={result.frame_list}"
    print(f"train with: {command}")


if __name__ == "__main__":
    main()
