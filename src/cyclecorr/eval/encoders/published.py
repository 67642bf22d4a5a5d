"""The published checkpoints of TimeCycle and CRW, evaluated as they are, as our ``Encoder``.

Each loader reads the file with ``torch.load(weights_only=True)``, checks its keys and shapes
against the exact layout of the reference model that wrote it (every missing, unexpected or
misshapen key is named, with the file), renames them to ours and loads them strictly. The
returned ``Encoder`` is in eval mode with gradients off and maps ImageNet-normalised images
``(N, 3, H, W)`` to features ``(N, C, H/8, W/8)``; both reference test scripts normalise with
ImageNet mean/std (TimeCycle ``test_davis.py``; CRW ``data/vos.py``, although CRW trains with its
own constants).

- TimeCycle release (xiaolonw/TimeCycle, ``checkpoint_14.pth.tar``): ``{"epoch", "state_dict"}``
  of ``DataParallel(CycleTime)`` (``models/videos/model_simple.py``), keys ``module.*``. The
  encoder ``module.encoderVideo.*`` is the inflated ResNet-50 of ``inflated_resnet.py`` built from
  ``resnet_res4s1.py`` (``layer3`` at stride 1): torchvision key names, every convolution a
  ``Conv3d`` with time kernel 1 (weights ``(O, I, 1, k, k)``), BatchNorm kept 2-D, ``layer4``
  stored but unused. ``module.afterconv1.weight`` ``(512, 1024, 1, 1, 1)`` is the bias-free 1x1x1
  projection (followed by ReLU); the tracker's ``afterconv3_trans``, ``afterconv4_trans`` and
  ``linear2`` are checked and dropped. Result: ``Encoder("resnet50", "layer3", out_channels=512,
  proj_bias=False)`` with the time dimension squeezed (a 1-frame 3-D kernel is the 2-D kernel).
- CRW (ajabri/videowalk, ``pretrained.pth``): ``{"model", ...}`` as its ``train.py`` saves it
  (``optimizer``, ``lr_scheduler``, ``epoch`` and an ``argparse.Namespace`` of ``args``, which
  the loader allows), ``model`` holding ``encoder.model.*`` (the ``From3D``-wrapped ResNet-18,
  torchvision key names) and the head ``selfsim_fc.*``. Older reflect-padded convolutions were
  ``Sequential(pad, conv)``, saved as ``...conv1.1.weight`` / ``...conv2.1.weight``; those are
  renamed exactly as its ``test.py`` does. The head and ``layer4`` are dropped, as at CRW's test
  time. Result: ``Encoder("resnet18", "layer3", out_channels=None, padding_mode="reflect")``.

``num_batches_tracked`` buffers (absent from files written before PyTorch 0.4.1) may be missing
as a whole; they are then set to 0 (eval mode never reads them).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from cyclecorr.models.encoder import Encoder

TC_ENCODER = "encoderVideo."
TC_PROJ = "afterconv1.weight"
TC_TRACKER = {  # CycleTime's tracker (model_simple.py), checked and dropped
    "afterconv3_trans.weight": (128, 900, 4, 4),
    "afterconv4_trans.weight": (64, 128, 4, 4),
    "linear2.weight": (3, 1024),
    "linear2.bias": (3,),
}
CRW_ENCODER = "encoder.model."
CRW_HEAD = "selfsim_fc."
BN_COUNTER = "num_batches_tracked"
Layout = dict[str, tuple[int, ...]]


def resnet_layout(arch: str) -> Layout:
    """Key -> shape of a torchvision ResNet state dict, ``fc`` removed (built on ``meta``)."""
    import torchvision.models as tvm  # heavy import kept out of package import time

    with torch.device("meta"):
        net = getattr(tvm, arch)(weights=None)
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if not k.startswith("fc.")}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on CPU, allowing ``argparse.Namespace`` (CRW).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file does not hold a dict.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{__name__}: checkpoint {str(path)!r} does not exist.")
    with torch.serialization.safe_globals([argparse.Namespace]):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict):
        raise ValueError(f"{__name__}: {path} holds a {type(ckpt).__name__}, expected a dict.")
    return ckpt


def strip_prefix(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Remove ``prefix`` when every key has it (``DataParallel``'s ``module.``)."""
    if state and all(key.startswith(prefix) for key in state):
        return {key[len(prefix) :]: value for key, value in state.items()}
    return dict(state)


def check_layout(
    state: Mapping[str, Tensor], expected: Layout, optional: set[str], source: str
) -> None:
    """Raise unless ``state`` has exactly the ``expected`` keys (``optional`` ones may be absent)
    with the expected shapes; the error names the file and the offending keys."""
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    misshapen = [
        f"{k}: {tuple(state[k].shape)} (expected {expected[k]})"
        for k in sorted(expected)
        if k in state and tuple(state[k].shape) != expected[k]
    ]
    if missing or unexpected or misshapen:
        raise ValueError(
            f"{__name__}: {source} does not have the expected key layout: missing {missing[:6]} "
            f"({len(missing)} total), unexpected {unexpected[:6]} ({len(unexpected)} total), "
            f"wrong shape {misshapen[:4]} ({len(misshapen)} total). Expected the file the "
            "reference code wrote; check that the right loader is used for this checkpoint."
        )


def all_or_none(state: Mapping[str, Tensor], keys: set[str], what: str, source: str) -> bool:
    """Whether the group ``keys`` is present in ``state``; raise when only some of it is."""
    present = keys & set(state)
    if present and present != keys:
        raise ValueError(
            f"{__name__}: {source} has {len(present)} of the {len(keys)} {what} keys, missing "
            f"{sorted(keys - present)[:6]}; the file is truncated or from another model."
        )
    return bool(present)


def optional_counters(state: Mapping[str, Tensor], layout: Layout, source: str) -> set[str]:
    """The ``num_batches_tracked`` keys of ``layout`` when the file has none of them (else an
    empty set: then all are required)."""
    counters = {k for k in layout if k.endswith(BN_COUNTER)}
    return set() if all_or_none(state, counters, BN_COUNTER, source) else counters


def with_bn_counters(trunk: dict[str, Tensor], layout: Layout) -> dict[str, Tensor]:
    """Fill absent BatchNorm ``num_batches_tracked`` buffers with 0 (pre-0.4.1 files)."""
    for key in layout:
        if key.endswith(BN_COUNTER) and key not in trunk:
            trunk[key] = torch.tensor(0, dtype=torch.long)
    return trunk


def _ready(encoder: Encoder) -> Encoder:
    encoder.eval()
    encoder.requires_grad_(False)
    return encoder


# ------------------------------------------------------------------ TimeCycle release
def timecycle_release_layout() -> Layout:
    """Key -> shape of the release's ``CycleTime`` state dict (without ``module.``)."""
    layout: Layout = {}
    for key, shape in resnet_layout("resnet50").items():
        inflated = (*shape[:2], 1, *shape[2:]) if len(shape) == 4 else shape  # Conv3d, time 1
        layout[TC_ENCODER + key] = inflated
    layout[TC_PROJ] = (512, 1024, 1, 1, 1)
    layout.update(TC_TRACKER)
    return layout


def timecycle_release_state_dict(ckpt: Mapping[str, Any], source: str = "checkpoint") -> dict:
    """Convert the release's checkpoint to the state dict of our TimeCycle encoder.

    Args:
        ckpt: the loaded file (``{"state_dict": ...}``) or its state dict.
        source: the file's name, for errors.

    Returns:
        State dict of ``Encoder("resnet50", "layer3", 512, proj_bias=False)``: ``trunk.*``
        (``conv1`` .. ``layer3``) and ``proj.0.weight`` ``(512, 1024, 1, 1)``.

    Raises:
        ValueError: keys or shapes differ from the release's layout (named).
    """
    state = strip_prefix(ckpt.get("state_dict", ckpt), "module.")
    layout = timecycle_release_layout()
    check_layout(state, layout, optional_counters(state, layout, source), source)
    trunk_layout = {
        k: v for k, v in resnet_layout("resnet50").items() if not k.startswith("layer4.")
    }
    trunk = {}
    for key in trunk_layout:
        value = state.get(TC_ENCODER + key)
        if value is not None:  # Conv3d (O, I, 1, k, k) -> Conv2d (O, I, k, k)
            trunk[key] = value.squeeze(2) if value.ndim == 5 else value
    converted = {f"trunk.{k}": v for k, v in with_bn_counters(trunk, trunk_layout).items()}
    converted["proj.0.weight"] = state[TC_PROJ].squeeze(2)  # (512, 1024, 1, 1, 1) -> 4-D
    return converted


def timecycle_release_encoder(path: str | Path) -> Encoder:
    """The TimeCycle release's encoder, from its ``checkpoint_14.pth.tar``.

    Args:
        path: the release's checkpoint file.

    Returns:
        ``Encoder("resnet50", "layer3", out_channels=512, proj_bias=False)`` in eval mode,
        gradients off: ``(N, 3, H, W)`` ImageNet-normalised -> ``(N, 512, H/8, W/8)``.
    """
    state = timecycle_release_state_dict(read_checkpoint(path), str(path))
    encoder = Encoder("resnet50", "layer3", out_channels=512, proj_bias=False)
    encoder.load_state_dict(state, strict=True)
    return _ready(encoder)


# ------------------------------------------------------------------------------ CRW
class CRWWeights(NamedTuple):
    """CRW's model weights in torchvision / ``nn.Sequential`` names.

    Attributes:
        trunk: ResNet-18 state dict (``conv1.weight`` .. ``layer4.*``; ``layer4`` when stored).
        head: the ``selfsim_fc`` head (``0.weight``, ``0.bias``, ...; empty without a head).
    """

    trunk: dict[str, Tensor]
    head: dict[str, Tensor]


def crw_test_rename(key: str) -> str:
    """CRW ``test.py``'s rename of wrapped reflect-padded convolutions (``conv1.1.weight``)."""
    if "conv1.1.weight" in key or "conv2.1.weight" in key:
        return key.replace(".1.weight", ".weight")
    return key


def crw_release_weights(ckpt: Mapping[str, Any], source: str = "checkpoint") -> CRWWeights:
    """Check and rename the ``model`` weights of a CRW ``train.py`` checkpoint.

    Args:
        ckpt: the loaded file (``{"model": ...}``) or the model's state dict.
        source: the file's name, for errors.

    Returns:
        ``CRWWeights`` (trunk with ``layer4`` if the file has it, head as stored).

    Raises:
        ValueError: keys or shapes differ from CRW's ResNet-18 layout (named).
    """
    state = strip_prefix(ckpt.get("model", ckpt), "module.")
    state = {crw_test_rename(key): value for key, value in state.items()}
    head = {k[len(CRW_HEAD) :]: v for k, v in state.items() if k.startswith(CRW_HEAD)}
    check_head(head, source)
    body = {k: v for k, v in state.items() if not k.startswith(CRW_HEAD)}
    layout = {CRW_ENCODER + k: s for k, s in resnet_layout("resnet18").items()}
    layer4 = {k for k in layout if ".layer4." in k and not k.endswith(BN_COUNTER)}
    if not all_or_none(body, layer4, "layer4", source):  # a test-time model has no layer4
        layout = {k: s for k, s in layout.items() if ".layer4." not in k}
    check_layout(body, layout, optional_counters(body, layout, source), source)
    trunk_layout = {k[len(CRW_ENCODER) :]: s for k, s in layout.items()}
    trunk = {k[len(CRW_ENCODER) :]: v for k, v in body.items()}
    return CRWWeights(with_bn_counters(trunk, trunk_layout), head)


def check_head(head: Mapping[str, Tensor], source: str) -> None:
    """CRW's ``selfsim_fc``: ``<i>.weight`` ``(out, in)`` / ``<i>.bias`` of linear layers, the
    first taking the 512-d ResNet-18 features (any depth; the head is dropped at test time)."""
    bad = [k for k in head if not re.fullmatch(r"\d+\.(weight|bias)", k)]
    first = head.get("0.weight")
    if bad or (first is not None and (first.ndim != 2 or first.shape[1] != 512)):
        found = None if first is None else tuple(first.shape)
        raise ValueError(
            f"{__name__}: {source} has an unexpected head {CRW_HEAD}*: keys {bad[:6]} are not "
            f"linear layers, or {CRW_HEAD}0.weight is {found} (expected (D, 512)); expected "
            "CRW's selfsim_fc of Linear layers on ResNet-18 features."
        )


def crw_release_encoder(path: str | Path) -> Encoder:
    """CRW's encoder at test time, from its ``pretrained.pth`` (or any ``train.py`` checkpoint).

    Args:
        path: the checkpoint file.

    Returns:
        ``Encoder("resnet18", "layer3", out_channels=None, padding_mode="reflect")`` in eval
        mode, gradients off: ``(N, 3, H, W)`` ImageNet-normalised -> ``(N, 256, H/8, W/8)``
        (``layer4`` and the head dropped, as CRW's ``test.py`` does).
    """
    weights = crw_release_weights(read_checkpoint(path), str(path))
    encoder = Encoder("resnet18", "layer3", out_channels=None, padding_mode="reflect")
    encoder.load_trunk_state_dict(weights.trunk)
    return _ready(encoder)
