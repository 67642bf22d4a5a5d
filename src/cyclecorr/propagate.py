"""Propagate a first-frame mask through a user's own video (any length, any resolution).

``python -m cyclecorr.propagate video=clip.mp4 mask=first.png ckpt_path=last.ckpt [out=dir]``
(or ``cyclecorr-propagate ...``). A Hydra entry point rather than argparse, so it shares the
``encoder`` and ``protocol`` config groups (and their overrides, e.g. ``encoder=pixels
protocol=crw``) with ``cyclecorr.evaluate`` and saves its resolved config next to the outputs; the
work is ``cyclecorr.eval.tasks.user_video.segment_user_video``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from cyclecorr.utils.config import CONF_DIR, register_resolvers
from cyclecorr.utils.runtime import resolve_device

register_resolvers()


def propagate(cfg: DictConfig) -> Path:
    """Run the propagation described by ``cfg``; returns the output folder."""
    from cyclecorr.eval.tasks.user_video import segment_user_video

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / "config_resolved.yaml", resolve=True)
    device = resolve_device(cfg.device)
    encoder = hydra.utils.instantiate(cfg.encoder).to(device)
    protocol = hydra.utils.instantiate(cfg.protocol)
    segment_user_video(
        encoder, protocol, cfg.video, cfg.mask, out, device, cfg.fps, cfg.backend, cfg.chunk,
        cfg.overlay, cfg.overlay_short_side, cfg.progress,
    )  # fmt: skip
    return out


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="propagate")
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    propagate(cfg)


if __name__ == "__main__":
    main()
