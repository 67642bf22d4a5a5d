"""Frozen encoders for evaluation: eval mode, no gradients, and the file checks they share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


def frozen(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with ``requires_grad`` off on every parameter (returned as is)."""
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def require_file(path: str | Path | None, what: str) -> Path:
    """An existing file, or an error naming ``what`` needs it and how to pass it.

    Raises:
        ValueError: ``path`` is None.
        FileNotFoundError: no such file.
    """
    if path is None:
        raise ValueError(f"{__name__}: {what} needs a file (set ckpt_path=...)")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{__name__}: {what} file {str(path)!r} does not exist; pass an existing file "
            "(e.g. ckpt_path=/abs/path/last.ckpt)"
        )
    return path


def load_weights(path: str | Path | None, what: str) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on CPU, unwrapping a ``state_dict`` entry."""
    state = torch.load(require_file(path, what), weights_only=True, map_location="cpu")
    if not isinstance(state, dict):
        raise ValueError(
            f"{__name__}: {what} file {path} holds a {type(state).__name__}, not a dict"
        )
    return dict(state.get("state_dict", state))
