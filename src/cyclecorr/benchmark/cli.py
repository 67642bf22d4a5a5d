"""``python -m cyclecorr.benchmark {propagation,training,data} ...``: print measured numbers.

A plain argparse CLI over ``cyclecorr.benchmark.propagation``, ``cyclecorr.benchmark.training``
and ``cyclecorr.benchmark.data``; it prints one line per number.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cyclecorr.utils.runtime import resolve_device


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``benchmark propagation --help``)."""
    parser = argparse.ArgumentParser(prog="python -m cyclecorr.benchmark")
    sub = parser.add_subparsers(dest="what", required=True)
    prop = sub.add_parser("propagation", help="label propagation frames/s and peak memory")
    prop.add_argument("--protocol", default="crw", choices=["timecycle", "crw"])
    prop.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 ...")
    prop.add_argument("--davis-root", type=Path, required=True)
    prop.add_argument("--sequence", default="blackswan")
    prop.add_argument("--encoder", default="crw_scratch", choices=["crw_scratch", "random"])
    prop.add_argument("--arch", default="resnet50", choices=["resnet50", "resnet18"])
    prop.add_argument("--stop-at", default=None, help="layer2 | layer3 | layer4 (arch default)")
    prop.add_argument("--max-frames", type=int, default=None)
    train = sub.add_parser("training", help="training steps/s and peak memory, any config")
    train.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 ...")
    train.add_argument("--precision", default="32", choices=["32", "bf16"])
    train.add_argument("--steps", type=int, default=10)
    train.add_argument("--warmup", type=int, default=3)
    train.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=paper")
    data = sub.add_parser("data", help="training clips/s per loader worker: mp4, frames, plain")
    data.add_argument("--videos", type=int, default=6, help="generated videos (6)")
    data.add_argument("--seconds", type=float, default=10.0, help="length of each video (10)")
    data.add_argument("--clips", type=int, default=30, help="timed clips per loader (30)")
    data.add_argument("--crop-size", type=int, default=240, help="training crop (240)")
    data.add_argument("--short-side", type=int, default=256, help="video short side (256)")
    data.add_argument("--prepare-workers", type=int, default=2, help="export processes (2)")
    return parser.parse_args(argv)


def print_training(args: argparse.Namespace) -> None:
    """Run the training-step benchmark and print one line per number."""
    from cyclecorr.benchmark.training import bench_training

    device = resolve_device(args.device)
    r = bench_training(args.overrides, device, args.precision, args.steps, args.warmup)
    print(
        f"training {r['arch']} batch {r['batch_size']} crop {r['crop_size']} on {device}, ", end=""
    )
    print(f"precision {args.precision}, overrides {args.overrides}:")
    print(f"  s/step:       {r['seconds_per_step']:.4f}")
    print(f"  clips/s:      {r['clips_per_second']:.1f}")
    print(f"  peak memory:  {r['peak_memory_mib']:.0f} MiB (CUDA: max allocated; CPU: peak RSS)")
    print(f"  final loss:   {r['final_loss']:.4f}")


def print_data(args: argparse.Namespace) -> None:
    """Run the data-loading benchmark and print one line per number, then the ratios."""
    from cyclecorr.benchmark.data import bench_data

    r = bench_data(
        args.videos, args.seconds, args.clips, args.crop_size, args.short_side, args.prepare_workers
    )
    tree, rates = r["tree"], r["clips_per_second"]
    width, height = tree.size
    print(
        f"data loading, {len(tree.videos)} generated videos ({args.seconds:g} s, 25/30 fps, "
        f"{width}x{height}, H.264 crf 23, key frames per video {tree.key_frames}), TimeCycle "
        f"clips at crop {r['crop_size']}, one process, one torch thread, {r['clips']} clips each:"
    )
    print(f"  prepare (12 fps JPEGs):               {r['prepare_seconds']:.1f} s, ", end="")
    print(f"{r['prepared_frames']} frames, {args.prepare_workers} workers")
    labels = {
        "mp4_decord": "(a) mp4 VideoTreeDataset, decord",
        "mp4_pyav": "(a) mp4 VideoTreeDataset, pyav",
        "mp4_torchcodec": "(a) mp4 VideoTreeDataset, torchcodec",
        "frames": "(b) frames FrameListDataset",
        "plain_pyav": "(c) plain PyAV decode-all loader",
    }
    for key, label in labels.items():
        if key in rates:
            print(f"  {label + ':':38s} {rates[key]:.2f} clips/s per worker")
        elif key in r["skipped"]:
            print(f"  {label + ':':38s} skipped, {r['skipped'][key]}")
    plain = rates["plain_pyav"]
    for key in ("mp4_decord", "mp4_pyav", "mp4_torchcodec"):
        label = f"(a)/(c) {key.removeprefix('mp4_')}"
        if key in rates:
            print(f"  ratio {label + ':':28s} {rates[key] / plain:.2f}x")
    print(f"  ratio {'(b)/(c):':28s} {rates['frames'] / plain:.2f}x")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one line per number."""
    args = parse_args(argv)
    if args.what == "training":
        print_training(args)
        return
    if args.what == "data":
        print_data(args)
        return
    from cyclecorr.benchmark.propagation import bench_propagation

    result = bench_propagation(args)
    where = f"{args.sequence} ({result['resized_width']}x{result['resized_height']})"
    net = "crw_scratch" if args.encoder == "crw_scratch" else args.arch
    print(f"propagation {args.protocol} {net} on {args.device}, {where}:")
    print(f"  frames:            {result['frames']}")
    print(f"  frames/s:          {result['frames_per_second']:.2f}")
    print(f"  encode s/frame:    {result['encode_seconds_per_frame']:.3f}")
    print(f"  propagate s/frame: {result['propagate_seconds_per_frame']:.3f}")
    print(f"  peak memory:       {result['peak_memory_mib']:.0f} MiB")
