"""Tests for the ResNet encoder at output stride 8 (cyclecorr.models.encoder)."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from cyclecorr.models.encoder import Encoder

ARCHS = [
    ("resnet50", None, 1024),  # METHOD default: layer3 at stride 1
    ("resnet18", None, 512),  # CRW variant: layer3 and layer4 at stride 1
    ("resnet18", "layer2", 128),  # light CPU option
]


@pytest.fixture(scope="module")
def encoders() -> dict[tuple[str, str | None], Encoder]:
    torch.manual_seed(0)
    return {(arch, stop): Encoder(arch, stop, out_channels=32).eval() for arch, stop, _ in ARCHS}


@pytest.mark.parametrize(("arch", "stop_at", "trunk_channels"), ARCHS)
@pytest.mark.parametrize("size", [240, 144])
def test_output_stride_8(
    encoders: dict[tuple[str, str | None], Encoder],
    arch: str,
    stop_at: str | None,
    trunk_channels: int,
    size: int,
) -> None:
    enc = encoders[(arch, stop_at)]
    with torch.no_grad():
        out = enc(torch.randn(1, 3, size, size))
    assert enc.stride == 8 and enc.out_channels == 32
    assert out.shape == (1, 32, size // 8, size // 8)
    assert out.min() >= 0.0  # ReLU after the projection
    assert enc.proj[0].in_channels == trunk_channels


def test_no_dilation_and_unused_stages_removed(
    encoders: dict[tuple[str, str | None], Encoder],
) -> None:
    enc = encoders[("resnet50", None)]
    assert all(m.dilation == (1, 1) for m in enc.modules() if isinstance(m, nn.Conv2d))
    assert isinstance(enc.trunk.layer4, nn.Identity) and isinstance(enc.trunk.fc, nn.Identity)
    assert not any(k.startswith(("trunk.layer4.", "trunk.fc.")) for k in enc.state_dict())


def test_forward_video_encodes_frames_independently(
    encoders: dict[tuple[str, str | None], Encoder],
) -> None:
    enc = encoders[("resnet18", "layer2")]
    clip = torch.randn(2, 3, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        feats = enc.forward_video(clip)
        single = enc(clip[1, 2:3])
    assert feats.shape == (2, 3, 32, 6, 6)
    assert torch.allclose(feats[1, 2], single[0], atol=1e-5)


def test_bad_inputs_raise() -> None:
    enc = Encoder("resnet18", "layer2", out_channels=8)
    with pytest.raises(ValueError, match="forward_video"):
        enc(torch.zeros(1, 2, 3, 16, 16))
    with pytest.raises(ValueError, match="unknown arch"):
        Encoder("vgg16")
    with pytest.raises(ValueError, match="stop_at"):
        Encoder("resnet18", "layer1")


def test_load_trunk_state_dict_from_torchvision() -> None:
    enc = Encoder("resnet50", out_channels=8)
    reference = torchvision.models.resnet50(weights=None).state_dict()
    enc.load_trunk_state_dict(reference)
    assert torch.equal(enc.trunk.conv1.weight, reference["conv1.weight"])
    assert torch.equal(enc.trunk.layer3[5].bn3.running_var, reference["layer3.5.bn3.running_var"])
    with pytest.raises(ValueError, match="does not fit a resnet50"):
        enc.load_trunk_state_dict(torchvision.models.resnet18(weights=None).state_dict())


def test_channels_last_gives_the_same_features_and_state_dict() -> None:
    torch.manual_seed(0)
    plain = Encoder("resnet18", "layer2", out_channels=8).eval()
    nhwc = Encoder("resnet18", "layer2", out_channels=8, channels_last=True).eval()
    nhwc.load_state_dict(plain.state_dict())
    assert nhwc.trunk.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    images = torch.randn(2, 3, 40, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = plain(images), nhwc(images)
    assert got.shape == (2, 8, 5, 6) and got.is_contiguous()
    assert torch.allclose(got, expected, atol=1e-5)
    # a checkpoint written by either layout loads strictly into the other
    plain.load_state_dict(nhwc.state_dict())
