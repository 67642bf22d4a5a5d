"""Label propagation speed and memory on one DAVIS sequence.

``python -m cyclecorr.benchmark propagation --protocol crw --device cpu --davis-root <root>
[--encoder crw_scratch|random] [--arch resnet18] [--sequence blackswan] [--max-frames 30]``
propagates one sequence with an untrained encoder (speed does not depend on the weights):
``crw_scratch`` is CRW's test layout (ResNet-18, 256-d ``layer3`` features, no head), ``random``
our ``Encoder`` with its 1x1 projection. It prints frames/s (encoding + propagation +
upsampling, frame decoding excluded), the seconds per frame spent in propagation alone
(``LabelPropagator.step``) and in encoding alone, and peak memory: the process's peak resident
set size (``VmHWM`` from ``/proc/self/status``) on CPU, ``torch.cuda.max_memory_allocated`` on
CUDA.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from cyclecorr.data.davis_format import read_annotation
from cyclecorr.eval.datasets.davis import load_sequence, read_frame
from cyclecorr.eval.encoders.random_init import crw_scratch_encoder, random_encoder
from cyclecorr.eval.propagation.propagator import LabelPropagator
from cyclecorr.eval.propagation.segmentation import encode_frame, first_labels, mask_indices
from cyclecorr.presets import load_protocol
from cyclecorr.utils.memory import peak_memory_mib
from cyclecorr.utils.runtime import resolve_device


def bench_encoder(kind: str, arch: str, stop_at: str | None) -> nn.Module:
    """``crw_scratch`` (CRW's test layout) or ``random`` (``Encoder(arch, stop_at)``)."""
    if kind == "crw_scratch":
        return crw_scratch_encoder()
    return random_encoder(arch, stop_at)


def bench_propagation(args: argparse.Namespace) -> dict[str, float]:
    """Propagate one DAVIS sequence; returns frames/s, per-stage seconds/frame and peak memory.

    Mirrors ``segment_video`` stage by stage so that encoding and propagation are timed apart
    (on CUDA each stage is synchronised before its clock stops).
    """
    device = resolve_device(args.device)
    protocol = load_protocol(args.protocol)
    encoder = bench_encoder(args.encoder, args.arch, args.stop_at).to(device)
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
