"""Encoders used by evaluation: a trained checkpoint, a torchvision state dict, random, pixels.

Every extractor maps ImageNet-normalised images ``(N, 3, H, W)`` (H, W multiples of 8) to features
``(N, C, H/8, W/8)``; propagation L2-normalises them. Kinds:

- ``checkpoint``: the ``encoder.*`` weights of a Lightning training checkpoint, loaded strictly with
  ``torch.load(weights_only=True)`` into ``Encoder(arch, stop_at)``. With ``arch=None`` the
  architecture is read from the weights themselves (``infer_architecture``: bottleneck blocks mean
  ResNet-50, three blocks in ``layer1`` ResNet-34, else ResNet-18; the last stage present is
  ``stop_at``), never from pickled hyper-parameters.
- ``torchvision``: a plain torchvision ResNet state dict loaded into the trunk; the randomly
  initialised 1x1 projection is dropped (identity) so the trunk's features are used as they are.
- ``random``: an untrained ``Encoder`` built under a fixed seed (a forked RNG, the global one is
  left untouched).
- ``pixels``: raw colour averaged over 8x8 cells: CIE Lab (kornia, L in [0, 100], a/b in about
  [-128, 127]) or RGB in [0, 1]; the no-learning baseline.

Every extractor is returned in ``eval()`` mode with gradients disabled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from cyclecorr.models.encoder import Encoder

WHERE = "cyclecorr/eval/feature_extractors.py"
KINDS = ("checkpoint", "torchvision", "random", "pixels")


class PixelFeatures(nn.Module):
    """Colour averaged over ``stride`` x ``stride`` cells: (N, 3, H, W) -> (N, 3, H/8, W/8)."""

    stride = 8
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, color: Literal["lab", "rgb"] = "lab") -> None:
        super().__init__()
        if color not in ("lab", "rgb"):
            raise ValueError(f"{WHERE}: color must be 'lab' or 'rgb', got {color!r}")
        from cyclecorr.data.transforms import IMAGENET_MEAN, IMAGENET_STD

        self.color = color
        self.register_buffer("mean", torch.as_tensor(IMAGENET_MEAN).float().reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.as_tensor(IMAGENET_STD).float().reshape(1, 3, 1, 1))
        self.out_channels = 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation, convert colour, average-pool by 8 (ceil mode)."""
        rgb = (x * self.std + self.mean).clamp(0.0, 1.0)  # (N, 3, H, W) in [0, 1]
        if self.color == "lab":
            import kornia.color

            rgb = kornia.color.rgb_to_lab(rgb)  # (N, 3, H, W): L, a, b
        return F.avg_pool2d(rgb, self.stride, self.stride, ceil_mode=True)


def _encoder(arch: str, stop_at: str | None, out_channels: int) -> Encoder:
    from cyclecorr.models.encoder import Encoder

    return Encoder(arch=arch, stop_at=stop_at, out_channels=out_channels, channels_last=True)


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
            f"{WHERE}: cannot read the architecture from encoder keys {list(state)[:4]}; expected "
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


def _require_file(path: str | Path | None, kind: str) -> Path:
    if path is None:
        raise ValueError(f"{WHERE}: encoder kind {kind!r} needs a path (set ckpt_path=...)")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{WHERE}: {kind} file {str(path)!r} does not exist; pass an existing file "
            "(e.g. ckpt_path=/abs/path/last.ckpt)"
        )
    return path


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
    path = _require_file(path, "checkpoint")
    ckpt = torch.load(path, weights_only=True, map_location="cpu")
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else {}
    enc = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    if not enc:
        raise ValueError(
            f"{WHERE}: checkpoint {str(path)!r} has no 'encoder.*' weights; found keys "
            f"{list(state)[:5]} (expected a cyclecorr training checkpoint; for a plain torchvision "
            "ResNet state dict use encoder=torchvision)"
        )
    return enc


def load_checkpoint_encoder(
    path: str | Path, arch: str | None, stop_at: str | None, out_channels: int = 512
) -> nn.Module:
    """Build ``Encoder(arch, stop_at)`` and load a checkpoint's encoder weights strictly.

    ``arch=None`` reads the architecture (and ``stop_at``, unless given) from the weights.

    Raises:
        ValueError: Keys or shapes do not match (a few missing/unexpected keys are listed and the
            arch to check is named).
    """
    state = encoder_state_from_checkpoint(path)
    if arch is None:
        arch, inferred_stop = infer_architecture(state)
        stop_at = stop_at or inferred_stop
    proj = state.get("proj.0.weight")
    if proj is not None:
        out_channels = int(proj.shape[0])  # the projection width is unambiguous in the weights
    model = _encoder(arch, stop_at, out_channels)
    missing, unexpected = _key_diff(model.state_dict(), state)
    if missing or unexpected:
        raise ValueError(
            f"{WHERE}: checkpoint {str(path)} does not match Encoder(arch={arch!r}, "
            f"stop_at={stop_at!r}): missing {missing[:4]} ({len(missing)} total), unexpected "
            f"{unexpected[:4]} ({len(unexpected)} total). Set encoder.arch / encoder.stop_at to "
            "the values used for training."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:  # shape mismatch: same keys, different architecture
        raise ValueError(
            f"{WHERE}: checkpoint {str(path)} has the keys of Encoder(arch={arch!r}, "
            f"stop_at={stop_at!r}) but other shapes; check encoder.arch / stop_at: {err}"
        ) from err
    return model


def _key_diff(expected: dict[str, Any], found: dict[str, Any]) -> tuple[list[str], list[str]]:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    return missing, unexpected


def _network_arch(arch: str | None, kind: str) -> str:
    if arch is None:
        raise ValueError(f"{WHERE}: encoder kind {kind!r} needs encoder.arch (e.g. resnet18)")
    return arch


def build_eval_encoder(
    kind: Literal["checkpoint", "torchvision", "random", "pixels"],
    path: str | Path | None = None,
    arch: str | None = "resnet50",
    stop_at: str | None = None,
    out_channels: int = 512,
    seed: int = 0,
    color: Literal["lab", "rgb"] = "lab",
) -> nn.Module:
    """Build the evaluation encoder: (N, 3, H, W) normalised -> (N, C, H/8, W/8).

    Args:
        kind: ``checkpoint``, ``torchvision``, ``random`` or ``pixels`` (see module docstring).
        path: Checkpoint / state-dict file (``checkpoint`` and ``torchvision`` only).
        arch: ``resnet50`` / ``resnet18`` / ``resnet34`` (network kinds); ``None`` for
            ``checkpoint`` reads it from the weights.
        stop_at: Last ResNet stage kept (``None`` = the arch default).
        out_channels: Projection width for ``random`` (``checkpoint`` reads it from the weights).
        seed: Initialisation seed for ``random``.
        color: ``lab`` or ``rgb`` for ``pixels``.

    Returns:
        An ``nn.Module`` in eval mode with ``requires_grad`` off.
    """
    if kind == "checkpoint":
        model = load_checkpoint_encoder(_require_file(path, kind), arch, stop_at, out_channels)
    elif kind == "torchvision":
        state = torch.load(_require_file(path, kind), weights_only=True, map_location="cpu")
        model = _encoder(_network_arch(arch, kind), stop_at, out_channels)
        model.load_trunk_state_dict(state.get("state_dict", state))
        model.proj = nn.Identity()  # type: ignore[assignment]  # a random 1x1 conv scrambles
    elif kind == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = _encoder(_network_arch(arch, kind), stop_at, out_channels)
    elif kind == "pixels":
        model = PixelFeatures(color)
    else:
        raise ValueError(f"{WHERE}: unknown encoder kind {kind!r}; expected one of {KINDS}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
