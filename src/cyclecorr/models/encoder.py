"""The feature encoder ``phi``: a ResNet trunk at output stride 8 plus an optional 1x1 projection.

METHOD.md section 3: ResNet-50 up to ``layer3`` with ``layer3`` at stride 1 and *no dilation*
(output stride 8, 1024 channels; 240 px -> 30x30), then ``conv1x1(1024 -> 512) + ReLU``. The
light variants: ResNet-18 with ``layer3`` and ``layer4`` at stride 1 (the CRW encoder, 512
channels) and ResNet-18 up to ``layer2`` (natively stride 8, 128 channels) for CPU runs and tests.
Stages after ``layer2`` are made stride 1 by setting their first block's strided convolutions
(the 3x3 and the downsample) to stride 1; dilation stays 1, as in the release. The trunk is a
torchvision ``ResNet`` built with ``weights=None`` (trained from scratch, nothing downloaded);
unused stages, ``avgpool`` and ``fc`` are replaced by ``nn.Identity``. Frames are encoded
independently (the release's "inflated 3D" net has 1-frame kernels); in ``forward_video`` the
BatchNorm statistics pool over batch x time.

Options: the release's projection has no bias and Kaiming-normal fan-out init
(``proj_bias=False, proj_init="kaiming_fan_out"``); ``padding_mode="reflect"`` pads every padded
trunk convolution by reflection (CRW's ``modify(padding='reflect')``; max-pooling keeps its
implicit padding); ``out_channels=None`` drops the projection (``proj`` is ``nn.Identity``, the
features are the last kept stage's output). CRW's random-init "scratch" encoder is
``Encoder("resnet18", "layer3", out_channels=None, padding_mode="reflect")``: 256-d layer3
features at stride 8, no head.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast

import torch
from torch import Tensor, nn

from cyclecorr.models.init import init_conv
from cyclecorr.ops.geometry import FEATURE_STRIDE

STAGES = ("layer1", "layer2", "layer3", "layer4")
DEFAULT_STOP = {"resnet18": "layer4", "resnet34": "layer4", "resnet50": "layer3"}
STAGE_CHANNELS = {
    "resnet18": {"layer2": 128, "layer3": 256, "layer4": 512},
    "resnet34": {"layer2": 128, "layer3": 256, "layer4": 512},
    "resnet50": {"layer2": 512, "layer3": 1024, "layer4": 2048},
}
PADDING_MODES = ("zeros", "reflect")


def build_resnet(arch: str) -> nn.Module:
    """A randomly initialised torchvision ResNet (``weights=None``: never downloads)."""
    import torchvision.models as tvm  # heavy import kept out of package import time

    if arch not in STAGE_CHANNELS:
        raise ValueError(
            f"{__name__}: unknown arch {arch!r}; expected one of "
            f"{sorted(STAGE_CHANNELS)} (set model.encoder.arch)."
        )
    return getattr(tvm, arch)(weights=None)


def unstride_stage(stage: nn.Module) -> None:
    """Set every stride-2 convolution of a ResNet stage to stride 1 (no dilation)."""
    for module in stage.modules():
        if isinstance(module, nn.Conv2d) and module.stride != (1, 1):
            module.stride = (1, 1)


def set_padding_mode(module: nn.Module, padding_mode: str) -> None:
    """Set ``padding_mode`` on every ``Conv2d`` inside ``module`` that pads (padding > 0).

    Args:
        module: e.g. the trunk.
        padding_mode: ``"zeros"`` or ``"reflect"``.
    """
    if padding_mode not in PADDING_MODES:
        raise ValueError(
            f"{__name__}: padding_mode={padding_mode!r}; expected one of "
            f"{PADDING_MODES} (set model.encoder.padding_mode)."
        )
    mode = cast(Literal["zeros", "reflect"], padding_mode)
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d) and any(int(side) > 0 for side in conv.padding):
            conv.padding_mode = mode


class Encoder(nn.Module):
    """ResNet trunk (output stride 8) + ``conv1x1 -> out_channels`` + ReLU (or no projection).

    Args:
        arch: ``"resnet50"`` (METHOD default), ``"resnet18"`` or ``"resnet34"``.
        stop_at: last stage kept, ``"layer2"``, ``"layer3"`` or ``"layer4"``; ``None`` picks the
            arch default (``layer3`` for resnet50, ``layer4`` for resnet18/34).
        out_channels: channels ``C`` of the projected features; ``None``: no projection, the
            features are the ``stop_at`` stage's output (``C`` = its channels, e.g. 256 for
            resnet18 ``layer3``).
        channels_last: run the convolutions in NHWC memory layout (weights and inputs); the
            output is returned in the usual contiguous NCHW layout. Same values up to float
            rounding; about a quarter faster on CPU (oneDNN) and what tensor cores prefer.
        padding_mode: ``"zeros"`` (torchvision's) or ``"reflect"`` (CRW), applied to every trunk
            ``Conv2d`` with non-zero padding.
        proj_bias: bias on the 1x1 projection (the release: ``False``).
        proj_init: the projection's init, ``"default"`` (PyTorch's) or ``"kaiming_fan_out"``
            (the release's); see ``cyclecorr.models.init``.

    Attributes:
        trunk: the torchvision ``ResNet``; stages after ``stop_at``, ``avgpool``, ``fc`` are
            ``nn.Identity``.
        proj: ``nn.Sequential(Conv2d(trunk_channels, C, 1), ReLU)``, or ``nn.Identity()`` when
            ``out_channels`` is ``None``.
        stride: 8, input pixels per feature cell.
        out_channels: ``C``.
    """

    stride = FEATURE_STRIDE

    def __init__(
        self,
        arch: str = "resnet50",
        stop_at: str | None = None,
        out_channels: int | None = 512,
        channels_last: bool = False,
        padding_mode: str = "zeros",
        proj_bias: bool = True,
        proj_init: str = "default",
    ) -> None:
        super().__init__()
        trunk = build_resnet(arch)
        stop_at = stop_at or DEFAULT_STOP[arch]
        if stop_at not in STAGE_CHANNELS[arch]:
            raise ValueError(
                f"{__name__}: stop_at={stop_at!r} is not supported; expected "
                f"one of {sorted(STAGE_CHANNELS[arch])} or None (set model.encoder.stop_at)."
            )
        last = STAGES.index(stop_at)
        for name in STAGES[2 : last + 1]:  # layer3/layer4 kept: output stride stays 8
            unstride_stage(getattr(trunk, name))
        self.removed = [*STAGES[last + 1 :], "fc"]
        for name in [*STAGES[last + 1 :], "avgpool", "fc"]:
            setattr(trunk, name, nn.Identity())
        set_padding_mode(trunk, padding_mode)
        self.stages = STAGES[: last + 1]
        self.arch, self.stop_at, self.padding_mode = arch, stop_at, padding_mode
        self.projected = out_channels is not None
        self.trunk = trunk
        trunk_channels = STAGE_CHANNELS[arch][stop_at]
        self.out_channels = trunk_channels if out_channels is None else out_channels
        self.proj: nn.Module = nn.Identity()
        if out_channels is not None:
            conv = nn.Conv2d(trunk_channels, out_channels, kernel_size=1, bias=proj_bias)
            init_conv(conv, proj_init)
            self.proj = nn.Sequential(conv, nn.ReLU(inplace=True))
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def layout(self) -> dict[str, str | int | None]:
        """What evaluation needs to rebuild this encoder that its weights do not say.

        Plain values, stored in training checkpoints (``cyclecorr_encoder``) and read by
        ``cyclecorr.eval.encoders.checkpoints.checkpoint_encoder``: ``arch``, ``stop_at``,
        ``out_channels`` (``None`` without a projection) and ``padding_mode``.
        """
        return {
            "arch": self.arch,
            "stop_at": self.stop_at,
            "out_channels": self.out_channels if self.projected else None,
            "padding_mode": self.padding_mode,
        }

    def forward(self, x: Tensor) -> Tensor:
        """Encode images.

        Args:
            x: ``(N, 3, H, W)`` float32 ImageNet-normalised images, H and W multiples of 8.

        Returns:
            ``(N, C, H/8, W/8)`` raw (not L2-normalised), non-negative features (ReLU last, in
            the projection or the trunk's last block).
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"{__name__}: Encoder.forward expects (N, 3, H, W) images, got "
                f"{tuple(x.shape)}; use forward_video for (B, T, 3, H, W) clips."
            )
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)  # same shape, NHWC strides
        # stem to (N, 64, H/4, W/4); stride 8 after layer2, kept from then on
        for name in ("conv1", "bn1", "relu", "maxpool", *self.stages):
            x = getattr(self.trunk, name)(x)
        return self.proj(x).contiguous()  # (N, C, H/8, W/8), NCHW layout

    def forward_video(self, x: Tensor) -> Tensor:
        """Encode every frame of a clip independently (BatchNorm pools over batch x time).

        Args:
            x: ``(B, T, 3, H, W)`` normalised frames.

        Returns:
            ``(B, T, C, H/8, W/8)`` raw features.
        """
        if x.ndim != 5:
            raise ValueError(
                f"{__name__}: forward_video expects (B, T, 3, H, W), got {tuple(x.shape)}."
            )
        b, t = x.shape[:2]
        feats = self(x.flatten(0, 1))  # (B*T, 3, H, W) -> (B*T, C, h, w)
        return feats.unflatten(0, (b, t))  # (B, T, C, h, w)

    def load_trunk_state_dict(self, state_dict: Mapping[str, Tensor]) -> None:
        """Load a plain torchvision ResNet state dict into ``trunk``.

        Keys of removed stages and of ``fc`` are dropped; every other key must match exactly
        (strict), so a wrong architecture fails loudly.

        Args:
            state_dict: e.g. ``torchvision.models.resnet50().state_dict()``.

        Raises:
            ValueError: missing or unexpected keys, or mismatched shapes.
        """
        prefixes = tuple(f"{name}." for name in self.removed)
        kept = {k: v for k, v in state_dict.items() if not k.startswith(prefixes)}
        try:
            self.trunk.load_state_dict(kept, strict=True)
        except RuntimeError as err:
            raise ValueError(
                f"{__name__}: the state dict does not fit a {self.arch} trunk "
                f"up to {self.stop_at} (expected torchvision ResNet keys such as 'conv1.weight', "
                f"'layer1.0.bn1.running_mean'; strip any 'encoder.trunk.' prefix first): {err}"
            ) from err
