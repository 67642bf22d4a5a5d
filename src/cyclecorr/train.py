"""Training entry point: ``python -m cyclecorr.train [experiment=...] [overrides]``.

Composes ``conf/train.yaml`` (found from this file, so any working directory works), seeds,
builds the datamodule, the ``TimeCycleSystem``, callbacks, loggers and the Trainer from the
config (the only place besides the evaluation entry points that calls
``hydra.utils.instantiate``), optionally validates the untrained model so ``metrics.csv`` holds
the starting ``val/theta_err_px``, trains, and returns the final metrics. Resuming takes one flag:
``resume=true`` (``<run dir>/checkpoints/last.ckpt``) or ``ckpt_path=<file>``.
"""

from __future__ import annotations

import logging
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from cyclecorr.utils.config import (
    CONF_DIR,
    choose_resume_checkpoint,
    keep_previous_metrics,
    register_resolvers,
)

log = logging.getLogger(__name__)
register_resolvers()


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a ``name -> {_target_: ...}`` group (callbacks, loggers).

    Entries set to ``null`` or without ``_target_`` are left out, so a preset can be switched
    off from the command line (``callbacks.rich_progress=null``).
    """
    if group is None:
        return []
    return [
        hydra.utils.instantiate(entry)
        for entry in group.values()
        if isinstance(entry, DictConfig) and "_target_" in entry
    ]


def build_loggers(cfg: DictConfig) -> list[Any]:
    """The configured loggers, plus a CSV logger writing ``<run dir>/metrics.csv`` if none is."""
    from lightning.pytorch.loggers import CSVLogger

    loggers = instantiate_group(cfg.get("logger"))
    if not any(isinstance(logger, CSVLogger) for logger in loggers):
        loggers.append(CSVLogger(save_dir=cfg.paths.output_dir, name="", version=""))
    return loggers


def save_final_checkpoint(trainer: Any, output_dir: str) -> None:
    """Write ``<run dir>/checkpoints/last.ckpt`` at the end of training.

    Periodic checkpoints only refresh ``last.ckpt`` every ``every_n_train_steps``; without this
    the steps after the last periodic save would be missing from it. Goes through the trainer's
    strategy, so the atomic checkpoint IO is used and only rank 0 writes.
    """
    if trainer.interrupted:
        return
    trainer.save_checkpoint(f"{output_dir}/checkpoints/last.ckpt")


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one training job described by a composed ``train.yaml`` config.

    Args:
        cfg: the composed config (``conf/train.yaml`` plus overrides).

    Returns:
        The Trainer's final ``callback_metrics`` as floats (``val/theta_err_px`` among them).
    """
    import lightning.pytorch as pl
    import torch

    if cfg.get("num_threads") is not None:
        torch.set_num_threads(cfg.num_threads)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    choice = choose_resume_checkpoint(cfg.resume, cfg.get("ckpt_path"), cfg.paths.output_dir)
    log.info(choice.message)
    if choice.ckpt_path is not None and keep_previous_metrics(cfg.paths.output_dir):
        log.info("Kept the previous metrics.csv of this run as metrics.<n>.csv.")

    datamodule = hydra.utils.instantiate(cfg.data.datamodule)
    system = hydra.utils.instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = build_loggers(cfg)
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)

    if cfg.get("validate_before_training") and choice.ckpt_path is None:
        trainer.validate(system, datamodule=datamodule)
    trainer.fit(system, datamodule=datamodule, ckpt_path=choice.ckpt_path)
    save_final_checkpoint(trainer, cfg.paths.output_dir)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    log.info("Final metrics: %s", metrics)
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns ``optimized_metric`` (for sweepers) when it was logged."""
    metrics = train(cfg)
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


if __name__ == "__main__":
    main()
