"""Tests for the ResNet encoder at output stride 8 (cyclecorr.models.encoder)."""

from __future__ import annotations

import math

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


# ------------------------------------------------------ release and CRW options
def test_projection_release_options() -> None:
    """The release's 1x1 projection: no bias, kaiming_normal_(fan_out, relu): std sqrt(2 / C)."""
    torch.manual_seed(0)
    release = Encoder("resnet50", out_channels=512, proj_bias=False, proj_init="kaiming_fan_out")
    plain = Encoder("resnet50", out_channels=512)
    assert release.proj[0].bias is None and "proj.0.bias" not in release.state_dict()
    assert plain.proj[0].bias is not None
    assert release.proj[0].weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.02)
    # PyTorch's default: Kaiming-uniform (a = sqrt(5)) over fan_in = 1024: std 1 / sqrt(3 * 1024)
    assert plain.proj[0].weight.std().item() == pytest.approx(1 / math.sqrt(3072), rel=0.02)
    with pytest.raises(ValueError, match="unknown conv init 'orthogonal'"):
        Encoder("resnet18", "layer2", out_channels=8, proj_init="orthogonal")


@pytest.mark.parametrize("channels_last", [False, True])
def test_reflect_padding_keeps_a_constant_image_constant(channels_last: bool) -> None:
    """Reflection of a constant image is constant, so every padded conv (and the whole trunk)
    maps it to spatially constant features; zero padding makes the borders differ."""
    torch.manual_seed(0)
    zeros = Encoder("resnet18", "layer3", out_channels=None).eval()
    reflect = Encoder(
        "resnet18", "layer3", out_channels=None, padding_mode="reflect", channels_last=channels_last
    ).eval()
    reflect.load_state_dict(zeros.state_dict())
    padded = [m for m in reflect.trunk.modules() if isinstance(m, nn.Conv2d) and m.padding[0] > 0]
    unpadded = [
        m for m in reflect.trunk.modules() if isinstance(m, nn.Conv2d) and m.padding[0] == 0
    ]
    assert padded and all(m.padding_mode == "reflect" for m in padded)
    assert unpadded and all(m.padding_mode == "zeros" for m in unpadded)  # 1x1 downsamples
    image = torch.full((1, 3, 64, 64), 0.7)
    with torch.no_grad():
        flat, bordered = reflect(image), zeros(image)
    spread = flat - flat.mean(dim=(2, 3), keepdim=True)
    assert flat.shape == (1, 256, 8, 8) and spread.abs().max() < 1e-4 * flat.abs().max()
    assert (bordered - bordered.mean(dim=(2, 3), keepdim=True)).abs().max() > 1e-2
    with pytest.raises(ValueError, match="padding_mode='circle'"):
        Encoder("resnet18", "layer2", out_channels=8, padding_mode="circle")


def test_no_projection_gives_the_stage_output() -> None:
    """out_channels=None: proj is nn.Identity and the features are layer3's 256 channels; with
    reflect padding this is CRW's random-init ("scratch") ResNet-18 at stride 8."""
    torch.manual_seed(0)
    crw = Encoder("resnet18", "layer3", out_channels=None, padding_mode="reflect").eval()
    assert isinstance(crw.proj, nn.Identity) and crw.out_channels == 256
    assert not any(key.startswith("proj.") for key in crw.state_dict())
    images = torch.randn(2, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = crw(images)
        trunk = crw.trunk
        x = trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(images))))
        expected = trunk.layer3(trunk.layer2(trunk.layer1(x)))
    assert feats.shape == (2, 256, 6, 8) and torch.equal(feats, expected)
    assert isinstance(crw.trunk.layer4, nn.Identity)
    crw.load_trunk_state_dict(torchvision.models.resnet18(weights=None).state_dict())
