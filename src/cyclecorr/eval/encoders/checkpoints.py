"""Trained weights as evaluation encoders: our training checkpoints and torchvision state dicts.

- ``checkpoint_encoder``: the ``encoder.*`` weights of a Lightning training checkpoint, loaded
  strictly with ``torch.load(weights_only=True)`` into ``Encoder(arch, stop_at)``. With
  ``arch=None`` the architecture is read from the weights (``infer_architecture``: bottleneck
  blocks mean ResNet-50, three blocks in ``layer1`` ResNet-34, else ResNet-18; the last stage
  present is ``stop_at``, an earlier one cuts the trunk), never from pickled hyper-parameters;
  the projection's width and bias, or its absence, always are. The padding mode comes from the
  plain encoder layout that training checkpoints store (``Encoder.layout``), or an argument.
- ``torchvision_encoder``: a plain torchvision ResNet state dict loaded strictly into the trunk
  (stages after ``stop_at`` and ``fc`` ignored). With a ``proj.weight`` entry (a bias-free 1x1
  conv, the TimeCycle release's ``afterconv1`` in torchvision names) the features are
  ``ReLU(proj(trunk))``, as in the release's test model; without one, the trunk's own features.

Both return frozen (eval mode, no gradients) encoders mapping ImageNet-normalised images
``(N, 3, H, W)`` to features ``(N, C, H/8, W/8)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from cyclecorr.eval.encoders.frozen import frozen, load_weights, require_file
from cyclecorr.models.encoder import STAGES, Encoder


def eval_encoder(
    arch: str, stop_at: str | None, out_channels: int | None, **kwargs: Any
) -> Encoder:
    """An ``Encoder`` laid out for inference (NHWC convolutions, same values)."""
    return Encoder(arch, stop_at, out_channels, channels_last=True, **kwargs)


def infer_architecture(state: dict[str, torch.Tensor]) -> tuple[str, str]:
    """Read ``(arch, stop_at)`` of an ``Encoder`` from its state-dict keys.

    Args:
        state: Encoder state dict (keys such as ``trunk.layer1.0.conv1.weight``).

    Returns:
        ``("resnet50" | "resnet34" | "resnet18", "layer2" | "layer3" | "layer4")``.

    Raises:
        ValueError: The keys hold no ResNet stage the encoder supports.
    """
    stages = [f"layer{i}" for i in (2, 3, 4) if f"trunk.layer{i}.0.conv1.weight" in state]
    if "trunk.layer1.0.conv1.weight" not in state or not stages:
        raise ValueError(
            f"{__name__}: cannot read the architecture from encoder keys {list(state)[:4]}; "
            "expected "
            "an Encoder state dict (trunk.layer1..., trunk.layer2...). Set encoder.arch and "
            "encoder.stop_at explicitly."
        )
    if "trunk.layer1.0.conv3.weight" in state:
        arch = "resnet50"  # bottleneck blocks
    elif "trunk.layer1.2.conv1.weight" in state:
        arch = "resnet34"  # basic blocks, three in layer1
    else:
        arch = "resnet18"
    return arch, stages[-1]


def encoder_state_from_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the ``encoder.*`` weights of a training checkpoint, prefix stripped.

    Args:
        path: Lightning ``.ckpt`` (a dict with ``state_dict``) or a bare state dict.

    Returns:
        Encoder state dict (keys such as ``trunk.conv1.weight``, ``proj.0.weight``).

    Raises:
        FileNotFoundError: No such file.
        ValueError: No ``encoder.`` key in the file (a few keys are listed).
    """
    return _read_checkpoint(path)[0]


def _read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The encoder weights and the encoder layout a training checkpoint stores (or ``{}``)."""
    ckpt = torch.load(require_file(path, "checkpoint"), weights_only=True, map_location="cpu")
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else {}
    enc = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    if not enc:
        raise ValueError(
            f"{__name__}: checkpoint {str(path)!r} has no 'encoder.*' weights; found keys "
            f"{list(state)[:5]} (expected a cyclecorr training checkpoint; for a plain torchvision "
            "ResNet state dict use encoder=torchvision)"
        )
    layout = ckpt.get("cyclecorr_encoder", {}) if isinstance(ckpt, dict) else {}
    return enc, dict(layout)


def truncate_trunk(state: dict[str, torch.Tensor], stop_at: str, path: str | Path) -> dict:
    """Drop the trunk stages after ``stop_at`` (CRW's test drops ``layer4``).

    Raises:
        ValueError: a projection follows the dropped stages (it could not take ``stop_at``'s
            channels).
    """
    later = [f"trunk.{name}." for name in STAGES[STAGES.index(stop_at) + 1 :]]
    if not any(k.startswith(tuple(later)) for k in state):
        return state
    if "proj.0.weight" in state:
        raise ValueError(
            f"{__name__}: checkpoint {str(path)} has a projection after its last stage; it cannot "
            f"be cut at stop_at={stop_at!r} (leave encoder.stop_at=null)."
        )
    return {k: v for k, v in state.items() if not k.startswith(tuple(later))}


def checkpoint_encoder(
    path: str | Path,
    arch: str | None = None,
    stop_at: str | None = None,
    padding_mode: str | None = None,
) -> nn.Module:
    """Build ``Encoder(arch, stop_at)`` and load a checkpoint's encoder weights strictly.

    Args:
        path: A cyclecorr training checkpoint (``last.ckpt``).
        arch: ``resnet50`` / ``resnet34`` / ``resnet18``; ``None`` reads it from the weights.
        stop_at: Last stage kept; ``None``: the checkpoint's. An earlier stage cuts the trunk
            there when no projection follows it (CRW's test-time ``layer3`` of a ``layer4``
            model).
        padding_mode: ``zeros`` or ``reflect``; ``None`` reads the layout the checkpoint stores
            (``Encoder.layout``), else ``zeros``.

    Raises:
        ValueError: Keys or shapes do not match (a few missing/unexpected keys are listed and the
            arch to check is named).
    """
    state, layout = _read_checkpoint(path)
    inferred_arch, trained_stop = infer_architecture(state)
    arch = arch or inferred_arch
    stop_at = stop_at or trained_stop
    state = truncate_trunk(state, stop_at, path)
    padding_mode = padding_mode or str(layout.get("padding_mode") or "zeros")
    proj = state.get("proj.0.weight")
    width = None if proj is None else int(proj.shape[0])  # unambiguous in the weights
    model = eval_encoder(
        arch, stop_at, width, padding_mode=padding_mode, proj_bias="proj.0.bias" in state
    )
    missing, unexpected = _key_diff(model.state_dict(), state)
    if missing or unexpected:
        raise ValueError(
            f"{__name__}: checkpoint {str(path)} does not match Encoder(arch={arch!r}, "
            f"stop_at={stop_at!r}): missing {missing[:4]} ({len(missing)} total), unexpected "
            f"{unexpected[:4]} ({len(unexpected)} total). Set encoder.arch / encoder.stop_at to "
            "the values used for training."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:  # shape mismatch: same keys, different architecture
        raise ValueError(
            f"{__name__}: checkpoint {str(path)} has the keys of Encoder(arch={arch!r}, "
            f"stop_at={stop_at!r}) but other shapes; check encoder.arch / stop_at: {err}"
        ) from err
    return frozen(model)


def torchvision_encoder(
    path: str | Path, arch: str = "resnet50", stop_at: str | None = "layer3"
) -> nn.Module:
    """A torchvision ResNet state dict (plus an optional bias-free ``proj.weight``) as an encoder.

    Raises:
        ValueError: The keys or shapes do not fit ``arch`` up to ``stop_at`` (named).
    """
    state = load_weights(path, "torchvision")
    proj = state.pop("proj.weight", None)
    if proj is None:
        model = eval_encoder(arch, stop_at, None)
    else:
        model = eval_encoder(arch, stop_at, int(proj.shape[0]), proj_bias=False)
        model.proj[0].weight.data.copy_(proj)  # type: ignore[index]
    model.load_trunk_state_dict(state)
    return frozen(model)


def _key_diff(expected: dict[str, Any], found: dict[str, Any]) -> tuple[list[str], list[str]]:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    return missing, unexpected
