"""Throughput and peak memory of TimeCycle training steps, at any config and precision.

``python -m cyclecorr.benchmark training [--device cuda] [--precision bf16] [--steps 20]
[overrides ...]`` composes the training config with Hydra ``overrides`` (``experiment=paper``,
``backbone=resnet18 data.batch_size=16`` ...), builds the LightningModule's parts, and times
full optimiser steps (encode, cycle losses, backward, gradient clipping, Adam) on random clips of
the configured size, so data loading is excluded: this is the model's ceiling. ``bf16`` runs the
forward pass under ``torch.autocast(bfloat16)`` with float32 weights, as Lightning's
``precision=bf16-mixed`` does.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from omegaconf import DictConfig

from cyclecorr.utils.memory import peak_memory_mib


def compose_train_config(overrides: list[str]) -> DictConfig:
    """The training config (``conf/train.yaml``) with Hydra ``overrides`` applied."""
    from hydra import compose, initialize_config_dir

    from cyclecorr.utils.config import CONF_DIR, register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def random_batch(cfg: DictConfig, device: torch.device) -> dict[str, torch.Tensor]:
    """Random clips shaped like the data module's batches.

    Returns:
        ``frames (B, k+1, 3, S, S)``, ``patch (B, 3, S/3, S/3)``, ``theta (B, 2, 3)`` (identity
        plus noise) and ``skipped (B,)``, with ``B = data.batch_size``, ``S = data.crop_size``,
        ``k = data.clip_len``.
    """
    b, s, k = int(cfg.data.batch_size), int(cfg.data.crop_size), int(cfg.data.clip_len)
    gen = torch.Generator().manual_seed(0)
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(b, 2, 3)
    return {
        "frames": torch.randn(b, k + 1, 3, s, s, generator=gen).to(device),
        "patch": torch.randn(b, 3, s // 3, s // 3, generator=gen).to(device),
        "theta": (theta + 0.1 * torch.randn(b, 2, 3, generator=gen)).to(device),
        "skipped": torch.zeros(b, dtype=torch.long, device=device),
    }


def bench_training(
    overrides: list[str], device: torch.device, precision: str, steps: int, warmup: int
) -> dict[str, Any]:
    """Time ``steps`` optimiser steps after ``warmup`` untimed ones.

    Args:
        overrides: Hydra overrides of the training config.
        device: where the model and the batch live.
        precision: ``"32"`` (float32) or ``"bf16"`` (bfloat16 autocast, float32 weights).
        steps: timed steps; warmup: untimed steps first (cuDNN autotuning, allocator).

    Returns:
        ``seconds_per_step``, ``clips_per_second``, ``peak_memory_mib`` (CUDA: max allocated;
        CPU: the process's peak resident set), ``final_loss`` and the batch/crop/arch it ran.
    """
    import hydra

    cfg = compose_train_config(overrides)
    system = hydra.utils.instantiate(cfg.model).to(device).train()
    optimizer = system.optimizer_factory(system.parameters())
    batch = random_batch(cfg, device)
    clip = float(cfg.trainer.get("gradient_clip_val") or 0.0)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = system.compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(system.parameters(), clip)
        optimizer.step()
        return out.total.detach()  # no host sync inside the timed loop

    def clock() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    for _ in range(warmup):
        step()
    start = clock()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        loss = step()
    seconds = (clock() - start) / max(1, steps)
    return {
        "seconds_per_step": seconds,
        "clips_per_second": int(cfg.data.batch_size) / seconds,
        "peak_memory_mib": peak_memory_mib(device),
        "final_loss": float(loss),
        "batch_size": int(cfg.data.batch_size),
        "crop_size": int(cfg.data.crop_size),
        "arch": str(cfg.model.encoder.arch),
    }
