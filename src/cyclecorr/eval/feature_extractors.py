"""Encoders used by evaluation: a checkpoint, a torchvision state dict, CRW scratch, random, pixels.

Every extractor maps ImageNet-normalised images ``(N, 3, H, W)`` (H, W multiples of 8) to features
``(N, C, H/8, W/8)``; propagation L2-normalises them. Kinds:

- ``checkpoint``: the ``encoder.*`` weights of a Lightning training checkpoint, loaded strictly with
  ``torch.load(weights_only=True)`` into ``Encoder(arch, stop_at)``. With ``arch=None`` the
  architecture is read from the weights themselves (``infer_architecture``: bottleneck blocks mean
  ResNet-50, three blocks in ``layer1`` ResNet-34, else ResNet-18; the last stage present is
  ``stop_at``), never from pickled hyper-parameters.
- ``torchvision``: a plain torchvision ResNet state dict loaded strictly into the trunk (stages
  after ``stop_at`` and ``fc`` ignored). With a ``proj.weight`` entry (a bias-free 1x1 conv, the
  TimeCycle release's ``afterconv1`` in torchvision names) the features are ``ReLU(proj(trunk))``,
  as in the release's test model; without one, the trunk's features are used as they are.
- ``crw_scratch``: CRW's ``--model-type scratch`` test encoder (ajabri/videowalk): ResNet-18 with
  reflect padding on every padded convolution, ``layer3`` at stride 1, ``layer4`` dropped, the
  256-d ``layer3`` output with no head. From a state dict (``path``) or, without one, initialised
  as CRW's ``test.py`` does: seed 777, then the two dummy train-mode forwards CRW runs to infer
  its feature size (they leave every BatchNorm ``running_var`` at 0.81).
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
KINDS = ("checkpoint", "torchvision", "crw_scratch", "random", "pixels")
CRW_SEED = 777  # ajabri/videowalk test_args --manualSeed


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


def _encoder(arch: str, stop_at: str | None, out_channels: int | None, **kwargs: Any) -> Encoder:
    from cyclecorr.models.encoder import Encoder

    return Encoder(arch, stop_at, out_channels, channels_last=True, **kwargs)


def load_torchvision_encoder(path: str | Path, arch: str, stop_at: str | None) -> nn.Module:
    """A torchvision ResNet state dict (plus an optional bias-free ``proj.weight``) as an encoder.

    Raises:
        ValueError: The keys or shapes do not fit ``arch`` up to ``stop_at`` (named).
    """
    state = torch.load(_require_file(path, "torchvision"), weights_only=True, map_location="cpu")
    state = dict(state.get("state_dict", state))
    proj = state.pop("proj.weight", None)
    if proj is None:
        model = _encoder(arch, stop_at, None)
    else:
        model = _encoder(arch, stop_at, int(proj.shape[0]), proj_bias=False)
        model.proj[0].weight.data.copy_(proj)  # type: ignore[index]
    model.load_trunk_state_dict(state)
    return model


def crw_scratch_encoder(path: str | Path | None = None, seed: int = CRW_SEED) -> nn.Module:
    """CRW's scratch ResNet-18 at test time: reflect padding, stride 8, 256-d ``layer3``, no head.

    Args:
        path: A torchvision ResNet-18 state dict (``conv1.*`` .. ``layer3.*``; ``layer4``/``fc``
            keys are ignored), e.g. ``crw-reference/scratch_resnet18_seed777.pt``; ``None`` builds
            CRW's random initialisation.
        seed: The seed of that random initialisation (CRW's 777).
    """
    if path is not None:
        file = _require_file(path, "crw_scratch")
        state = torch.load(file, weights_only=True, map_location="cpu")
        model = _encoder("resnet18", "layer3", None, padding_mode="reflect")
        model.load_trunk_state_dict(state.get("state_dict", state))
        return model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _encoder("resnet18", "layer3", None, padding_mode="reflect")
    with torch.no_grad():  # CRW's infer_dims (256 px) and infer_downscale (320 px), train mode
        model.train()
        for side in (256, 320):
            model(torch.zeros(1, 3, side, side))
    return model


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
    path: str | Path,
    arch: str | None,
    stop_at: str | None,
    padding_mode: str = "zeros",
) -> nn.Module:
    """Build ``Encoder(arch, stop_at)`` and load a checkpoint's encoder weights strictly.

    ``arch=None`` reads the architecture (and ``stop_at``, unless given) from the weights; the
    projection's width and bias (or its absence) are always read from them.

    Raises:
        ValueError: Keys or shapes do not match (a few missing/unexpected keys are listed and the
            arch to check is named).
    """
    state = encoder_state_from_checkpoint(path)
    if arch is None:
        arch, inferred_stop = infer_architecture(state)
        stop_at = stop_at or inferred_stop
    proj = state.get("proj.0.weight")
    width = None if proj is None else int(proj.shape[0])  # unambiguous in the weights
    model = _encoder(
        arch, stop_at, width, padding_mode=padding_mode, proj_bias="proj.0.bias" in state
    )
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
    kind: Literal["checkpoint", "torchvision", "crw_scratch", "random", "pixels"],
    path: str | Path | None = None,
    arch: str | None = "resnet50",
    stop_at: str | None = None,
    out_channels: int = 512,
    seed: int | None = None,
    color: Literal["lab", "rgb"] = "lab",
    padding_mode: str = "zeros",
    proj_bias: bool = True,
    proj_init: str = "default",
) -> nn.Module:
    """Build the evaluation encoder: (N, 3, H, W) normalised -> (N, C, H/8, W/8).

    Args:
        kind: ``checkpoint``, ``torchvision``, ``crw_scratch``, ``random`` or ``pixels`` (see
            the module docstring).
        path: Checkpoint / state-dict file (``checkpoint``, ``torchvision``; optional for
            ``crw_scratch``).
        arch: ``resnet50`` / ``resnet18`` / ``resnet34`` (network kinds); ``None`` for
            ``checkpoint`` reads it from the weights.
        stop_at: Last ResNet stage kept (``None`` = the arch default).
        out_channels: Projection width for ``random`` (``checkpoint`` reads it from the weights).
        seed: Initialisation seed for ``random`` (default 0) and for ``crw_scratch`` without a
            file (default CRW's 777).
        color: ``lab`` or ``rgb`` for ``pixels``.
        padding_mode: ``zeros`` or ``reflect`` convolution padding (network kinds; it cannot be
            read from weights, so set it to the value used for training).
        proj_bias: Bias of the 1x1 projection (``random``; ``checkpoint`` reads it).
        proj_init: ``default`` or ``kaiming_fan_out`` initialisation of that projection
            (``random``).

    Returns:
        An ``nn.Module`` in eval mode with ``requires_grad`` off.
    """
    if kind == "checkpoint":
        model = load_checkpoint_encoder(_require_file(path, kind), arch, stop_at, padding_mode)
    elif kind == "torchvision":
        arch = _network_arch(arch, kind)
        model = load_torchvision_encoder(_require_file(path, kind), arch, stop_at)
    elif kind == "crw_scratch":
        model = crw_scratch_encoder(path, CRW_SEED if seed is None else seed)
    elif kind == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0 if seed is None else seed)
            model = _encoder(
                _network_arch(arch, kind),
                stop_at,
                out_channels,
                padding_mode=padding_mode,
                proj_bias=proj_bias,
                proj_init=proj_init,
            )
    elif kind == "pixels":
        model = PixelFeatures(color)
    else:
        raise ValueError(f"{WHERE}: unknown encoder kind {kind!r}; expected one of {KINDS}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
