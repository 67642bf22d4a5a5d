"""Benchmarks: label propagation on a DAVIS sequence, and training steps.

``python -m cyclecorr.benchmark training [--device cuda] [--precision bf16] [overrides ...]``
times optimiser steps at any training config (``cyclecorr.training_benchmark``).

``python -m cyclecorr.benchmark propagation --protocol crw --device cpu --davis-root <root>
[--arch resnet18] [--sequence blackswan] [--max-frames 30]`` propagates one sequence with a
randomly initialised encoder (speed does not depend on the weights), and prints frames/s
(encoding + propagation + upsampling, frame decoding excluded), the seconds per frame spent in
propagation alone (``LabelPropagator.step``) and in encoding alone, and peak memory: the process's
peak resident set size (``VmHWM`` from ``/proc/self/status``) on CPU, and
``torch.cuda.max_memory_allocated`` on CUDA. A plain argparse CLI: it builds nothing from config.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cyclecorr.evaluate import resolve_device
from cyclecorr.utils.memory import peak_memory_mib


def bench_propagation(args: argparse.Namespace) -> dict[str, float]:
    """Propagate one DAVIS sequence; returns frames/s, per-stage seconds/frame and peak memory.

    Mirrors ``segment_video`` stage by stage so that encoding and propagation are timed apart
    (on CUDA each stage is synchronised before its clock stops).
    """
    from cyclecorr.eval.davis_io import load_sequence, read_annotation, read_frame
    from cyclecorr.eval.feature_extractors import build_eval_encoder
    from cyclecorr.eval.propagator import LabelPropagator
    from cyclecorr.eval.protocols import get_protocol
    from cyclecorr.eval.video_segmentation import encode_frame, first_labels, mask_indices

    device = resolve_device(args.device)
    protocol = get_protocol(args.protocol)
    encoder = build_eval_encoder("random", arch=args.arch, stop_at=args.stop_at).to(device)
    seq = load_sequence(args.davis_root, args.sequence)
    frames = [read_frame(p) for p in seq.frames[: args.max_frames]]  # decoded up front
    first = read_annotation(seq.annotations[0])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def clock() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    start = clock()
    feats = encode_frame(encoder, frames[0], protocol, device)  # (C, h, w)
    ids, onehot = first_labels(first, protocol, (feats.shape[1], feats.shape[2]))
    propagator = LabelPropagator(feats, onehot.to(device), protocol, device=device)
    encode_s = propagate_s = 0.0
    for frame in frames[1:]:
        t0 = clock()
        feats = encode_frame(encoder, frame, protocol, device)
        t1 = clock()
        dist = propagator.step(feats)  # (L, h, w)
        t2 = clock()
        ids.ids[mask_indices(dist, frame.shape[:2], protocol)]  # (H, W) ids, as segment_video
        encode_s, propagate_s = encode_s + t1 - t0, propagate_s + t2 - t1
    seconds = clock() - start
    count = max(0, len(frames) - 1)
    peak = peak_memory_mib(device)
    h, w = protocol.resized_size(*first.shape)
    return {
        "frames": count,
        "frames_per_second": count / seconds,
        "encode_seconds_per_frame": encode_s / max(1, count),
        "propagate_seconds_per_frame": propagate_s / max(1, count),
        "peak_memory_mib": peak,
        "resized_height": h,
        "resized_width": w,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``benchmark propagation --help``)."""
    parser = argparse.ArgumentParser(prog="python -m cyclecorr.benchmark")
    sub = parser.add_subparsers(dest="what", required=True)
    prop = sub.add_parser("propagation", help="label propagation frames/s and peak memory")
    prop.add_argument("--protocol", default="crw", choices=["timecycle", "crw"])
    prop.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 ...")
    prop.add_argument("--davis-root", type=Path, required=True)
    prop.add_argument("--sequence", default="blackswan")
    prop.add_argument("--arch", default="resnet50", choices=["resnet50", "resnet18"])
    prop.add_argument("--stop-at", default=None, help="layer2 | layer3 | layer4 (arch default)")
    prop.add_argument("--max-frames", type=int, default=None)
    train = sub.add_parser("training", help="training steps/s and peak memory, any config")
    train.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 ...")
    train.add_argument("--precision", default="32", choices=["32", "bf16"])
    train.add_argument("--steps", type=int, default=10)
    train.add_argument("--warmup", type=int, default=3)
    train.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=paper")
    return parser.parse_args(argv)


def print_training(args: argparse.Namespace) -> None:
    """Run the training-step benchmark and print one line per number."""
    from cyclecorr.training_benchmark import bench_training

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


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one line per number."""
    args = parse_args(argv)
    if args.what == "training":
        print_training(args)
        return
    result = bench_propagation(args)
    where = f"{args.sequence} ({result['resized_width']}x{result['resized_height']})"
    print(f"propagation {args.protocol} {args.arch} on {args.device}, {where}:")
    print(f"  frames:            {result['frames']}")
    print(f"  frames/s:          {result['frames_per_second']:.2f}")
    print(f"  encode s/frame:    {result['encode_seconds_per_frame']:.3f}")
    print(f"  propagate s/frame: {result['propagate_seconds_per_frame']:.3f}")
    print(f"  peak memory:       {result['peak_memory_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
