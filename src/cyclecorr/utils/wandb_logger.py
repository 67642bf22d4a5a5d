"""A W&B logger that works without credentials and re-attaches to its run on resume.

``make_wandb_logger`` builds Lightning's ``WandbLogger`` with two policies:

- offline when asked (``offline=True``), when ``WANDB_MODE`` is ``offline``/``dryrun``, or, in
  auto mode (``offline=None``), when no API key is found (``WANDB_API_KEY`` or an
  ``api.wandb.ai`` entry in ``~/.netrc``): a run without credentials never blocks on a login
  prompt; ``wandb sync <save_dir>/wandb/offline-run-*`` uploads it later;
- a run id derived from the absolute ``save_dir`` (``resume="allow"``), so ``resume=true`` or a
  SLURM requeue, which reuse the run folder, continue the same W&B run instead of opening a new
  one.
"""

from __future__ import annotations

import hashlib
import netrc
import os
from pathlib import Path
from typing import Any, Literal

OFFLINE_MODES = ("offline", "dryrun")


def wandb_api_key_available() -> bool:
    """Whether W&B credentials exist (``WANDB_API_KEY`` or ``~/.netrc`` for api.wandb.ai)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_offline(offline: bool | None) -> bool:
    """The offline decision described in the module docstring (``None`` = auto)."""
    if offline is not None:
        return bool(offline)
    if os.environ.get("WANDB_MODE", "").lower() in OFFLINE_MODES:
        return True
    return not wandb_api_key_available()


def run_id_for(save_dir: str | Path) -> str:
    """A stable 16-hex-digit W&B run id for a run folder (same folder -> same id)."""
    return hashlib.sha1(str(Path(save_dir).resolve()).encode()).hexdigest()[:16]


def make_wandb_logger(
    project: str = "cyclecorr",
    name: str | None = None,
    save_dir: str = ".",
    offline: bool | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    log_model: bool | Literal["all"] = False,
    id: str | None = None,
    **kwargs: Any,
) -> Any:
    """Build a ``lightning.pytorch.loggers.WandbLogger``.

    Args:
        project: W&B project.
        name: display name of the run.
        save_dir: the run folder; W&B files go to ``<save_dir>/wandb``.
        offline: True/False force the mode; None decides automatically (module docstring).
        group: W&B group (e.g. a sweep name).
        tags: W&B tags.
        log_model: upload checkpoints as artifacts (False keeps them on disk only).
        id: run id; None derives it from ``save_dir`` (stable across resumes).
        **kwargs: passed to ``WandbLogger`` / ``wandb.init``.

    Returns:
        The ``WandbLogger``.
    """
    from lightning.pytorch.loggers import WandbLogger

    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        project=project,
        name=name,
        save_dir=save_dir,
        offline=resolve_offline(offline),
        group=group,
        tags=list(tags or []),
        log_model=log_model,
        id=id or run_id_for(save_dir),
        resume="allow",
        **kwargs,
    )
