"""Peak memory of this process, for the benchmarks: CUDA allocations or the CPU's resident set."""

from __future__ import annotations

from pathlib import Path

import torch


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux ``/proc``; NaN elsewhere)."""
    status = Path("/proc/self/status")
    if not status.is_file():
        return float("nan")
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0  # kB -> MiB
    return float("nan")


def peak_memory_mib(device: torch.device) -> float:
    """``torch.cuda.max_memory_allocated`` on CUDA (since the last reset), else peak RSS, MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()
