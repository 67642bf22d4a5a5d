"""The published-checkpoint loaders (models/pretrained.py) on files with the references' layouts.

The real files cannot be downloaded here, so each test writes one with the exact key names and
shapes the reference code produces, from a network built here the way the reference builds it:

- TimeCycle (xiaolonw/TimeCycle ``models/videos/model_simple.py``, ``inflated_resnet.py``,
  ``resnet_res4s1.py``): ``DataParallel(CycleTime)``, so ``module.encoderVideo.*`` is a ResNet-50
  whose every convolution is a ``Conv3d`` with a time kernel of 1 (``layer3`` at stride 1,
  ``layer4`` stored), ``module.afterconv1`` a bias-free ``Conv3d(1024, 512, 1)``, and the tracker
  ``afterconv3_trans`` / ``afterconv4_trans`` / ``linear2``. Applied to single frames, that 3-D
  network must give what our 2-D ``Encoder`` gives after loading.
- CRW (ajabri/videowalk ``model.py``, ``resnet.py``, ``utils.From3D``): ``{"model": ...}`` with
  ``encoder.model.*`` (a torchvision ResNet-18 without ``fc``/``avgpool``) and ``selfsim_fc.0.*``
  (``Linear(512, 128)``); its features at test time are the reflect-padded, stride-8 ``layer3``.

Both layouts were also checked once against the reference code itself, from scratch copies outside
the repository: ``timecycle_release_layout()`` equals the state dict of the release's
``DataParallel(model_simple.CycleTime(trans_param_num=3, pretrained=False))`` (323 keys, same names
and shapes; ``.cuda()`` made a no-op, display-only imports stubbed), and ``crw_reference_model()``
equals that of CRW's ``model.CRW`` with the README's arguments (122 keys).
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import pytest
import torch
import torchvision
from torch import Tensor, nn

from cyclecorr.eval.encoders.published import (
    crw_release_encoder,
    crw_release_weights,
    timecycle_release_encoder,
    timecycle_release_layout,
)


# ---------------------------------------------------------------- TimeCycle release
def conv3d(cin: int, cout: int, k: int, stride: int = 1, pad: int = 0) -> nn.Conv3d:
    """The release's inflated conv: kernel ``(1, k, k)``, no time stride or padding, no bias."""
    return nn.Conv3d(cin, cout, (1, k, k), (1, stride, stride), (0, pad, pad), bias=False)


class Bottleneck3d(nn.Module):
    """``inflated_resnet.Bottleneck3d``: stride on the 3x3 conv (torchvision / res4s1 layout)."""

    def __init__(self, cin: int, planes: int, stride: int, downsample: bool) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv3d(cin, planes, 1), nn.BatchNorm3d(planes)
        self.conv2, self.bn2 = conv3d(planes, planes, 3, stride, 1), nn.BatchNorm3d(planes)
        self.conv3, self.bn3 = conv3d(planes, planes * 4, 1), nn.BatchNorm3d(planes * 4)
        self.downsample = (
            nn.Sequential(conv3d(cin, planes * 4, 1, stride), nn.BatchNorm3d(planes * 4))
            if downsample
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class InflatedResNet50(nn.Module):
    """``InflatedResNet(resnet_res4s1.resnet50())``: strides 1, 2, 1 (layer3), 2 (layer4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv3d(3, 64, 7, 2, 3), nn.BatchNorm3d(64)
        self.maxpool1 = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        cin = 64
        for name, planes, blocks, stride in [
            ("layer1", 64, 3, 1),
            ("layer2", 128, 4, 2),
            ("layer3", 256, 6, 1),
            ("layer4", 512, 3, 2),
        ]:
            layers = [Bottleneck3d(cin, planes, stride, True)]
            layers += [Bottleneck3d(planes * 4, planes, 1, False) for _ in range(blocks - 1)]
            setattr(self, name, nn.Sequential(*layers))
            cin = planes * 4

    def forward(self, x: Tensor) -> Tensor:  # (N, 3, T, H, W) -> res4 (N, 1024, T, H/8, W/8)
        x = self.maxpool1(torch.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))


class CycleTime(nn.Module):
    """The parameters of ``model_simple.CycleTime`` (encoder, projection, tracker)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoderVideo = InflatedResNet50()
        self.afterconv1 = nn.Conv3d(1024, 512, kernel_size=1, bias=False)
        self.afterconv3_trans = nn.Conv2d(900, 128, kernel_size=4, bias=False)
        self.afterconv4_trans = nn.Conv2d(128, 64, kernel_size=4, bias=False)
        self.linear2 = nn.Linear(64 * 4 * 4, 3)

    def features(self, frames: Tensor) -> Tensor:
        """Single frames ``(N, 3, H, W)`` through the 3-D network -> ``(N, 512, H/8, W/8)``."""
        return torch.relu(self.afterconv1(self.encoderVideo(frames[:, :, None]))).squeeze(2)


def randomise_bn(model: nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm statistics and affine parameters, so eval mode is tested."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            assert module.running_mean is not None and module.running_var is not None
            module.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
            module.running_var.copy_(0.5 + torch.rand(n, generator=gen))
            module.weight.data.copy_(0.5 + torch.rand(n, generator=gen))
            module.bias.data.copy_(0.1 * torch.randn(n, generator=gen))


@pytest.fixture(scope="module")
def cycletime() -> CycleTime:
    torch.manual_seed(0)
    model = CycleTime().eval()
    with torch.no_grad():
        randomise_bn(model, 1)
    return model


def save_release(model: nn.Module, path: Path, drop: tuple[str, ...] = ()) -> Path:
    state = {f"module.{k}": v for k, v in model.state_dict().items() if not k.endswith(drop)}
    torch.save({"epoch": 15, "state_dict": state}, path)
    return path


def test_release_layout_names_the_release_keys(cycletime: CycleTime) -> None:
    layout = timecycle_release_layout()
    found = {k: tuple(v.shape) for k, v in cycletime.state_dict().items()}
    assert layout == found
    assert layout["encoderVideo.conv1.weight"] == (64, 3, 1, 7, 7)
    assert layout["encoderVideo.layer3.0.downsample.0.weight"] == (1024, 512, 1, 1, 1)
    assert layout["encoderVideo.layer4.2.bn3.running_var"] == (2048,)
    assert layout["afterconv1.weight"] == (512, 1024, 1, 1, 1)
    assert len(layout) == 318 + 5  # ResNet-50 state dict without fc, projection, tracker


def test_timecycle_release_equals_the_3d_network(cycletime: CycleTime, tmp_path: Path) -> None:
    encoder = timecycle_release_encoder(save_release(cycletime, tmp_path / "checkpoint_14.pth.tar"))
    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())
    frames = torch.randn(2, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = cycletime.features(frames)
        found = encoder(frames)
    assert found.shape == (2, 512, 6, 8)
    assert torch.allclose(found, expected, atol=1e-4, rtol=1e-4)
    assert expected.abs().mean() > 0.05  # not a trivially zero feature map


def test_timecycle_release_without_bn_counters_loads(cycletime: CycleTime, tmp_path: Path) -> None:
    """Files from PyTorch < 0.4.1 have no num_batches_tracked buffers."""
    path = save_release(cycletime, tmp_path / "old.pth.tar", drop=("num_batches_tracked",))
    frames = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(
            timecycle_release_encoder(path)(frames), cycletime.features(frames), atol=1e-4
        )


def test_timecycle_release_names_missing_and_unexpected_keys(
    cycletime: CycleTime, tmp_path: Path
) -> None:
    state = {f"module.{k}": v for k, v in cycletime.state_dict().items()}
    del state["module.encoderVideo.layer2.1.conv2.weight"]
    state["module.extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth.tar"
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match="broken.pth.tar") as info:
        timecycle_release_encoder(path)
    assert "encoderVideo.layer2.1.conv2.weight" in str(info.value)
    assert "extra.weight" in str(info.value)
    state = {f"module.{k}": v for k, v in cycletime.state_dict().items()}
    state["module.afterconv1.weight"] = torch.zeros(512, 1024, 1, 1)  # a 2-D projection
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match=r"wrong shape \['afterconv1.weight: \(512, 1024, 1, 1\)"):
        timecycle_release_encoder(path)


def test_loaders_refuse_pickled_code(tmp_path: Path) -> None:
    path = tmp_path / "code.pth"
    torch.save({"state_dict": {}, "hook": collections.defaultdict(list)}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        timecycle_release_encoder(path)


# ---------------------------------------------------------------------------- CRW
def crw_reference_model(seed: int = 0) -> nn.Module:
    """CRW's ``model.CRW`` parameters: ``encoder.model`` (ResNet-18, fc/avgpool removed) and
    ``selfsim_fc`` (``Linear(512, 128)``, head depth 0)."""
    torch.manual_seed(seed)
    net = torchvision.models.resnet18(weights=None)
    net.fc, net.avgpool = None, None  # type: ignore[assignment]
    model = nn.Module()
    model.encoder = nn.Module()
    model.encoder.model = net
    model.selfsim_fc = nn.Sequential(nn.Linear(512, 128))
    with torch.no_grad():
        randomise_bn(model, seed + 1)
    return model.eval()


def crw_test_features(net: nn.Module, frames: Tensor) -> Tensor:
    """CRW's test-time encoder by hand: reflect padding, layer3 at stride 1, layer4 dropped."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d) and sum(module.padding) > 0:
            module.padding_mode = "reflect"
    for module in net.layer3.modules():
        if isinstance(module, nn.Conv2d):
            module.stride = (1, 1)
    x = net.maxpool(net.relu(net.bn1(net.conv1(frames))))
    return net.layer3(net.layer2(net.layer1(x)))


def save_crw(model: nn.Module, path: Path, wrapped_convs: bool = False) -> Path:
    state = model.state_dict()
    if wrapped_convs:  # the Sequential(pad, conv) naming that CRW's test.py renames
        state = {
            (
                k.replace(".weight", ".1.weight")
                if k.endswith(("conv1.weight", "conv2.weight"))
                else k
            ): v
            for k, v in state.items()
        }
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [20, 30, 40], 0.3)
    args = argparse.Namespace(model_type="scratch", clip_len=4, patch_size=[64, 64, 3])
    ckpt = {
        "model": state,
        "optimizer": optimizer.state_dict(),
        "lr_scheduler": scheduler.state_dict(),
        "epoch": 24,
        "args": args,
    }
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize("wrapped_convs", [False, True])
def test_crw_release_equals_crw_test_encoder(tmp_path: Path, wrapped_convs: bool) -> None:
    model = crw_reference_model()
    path = save_crw(model, tmp_path / "pretrained.pth", wrapped_convs)
    if wrapped_convs:
        assert (
            "encoder.model.layer1.0.conv2.1.weight" in torch.load(path, weights_only=False)["model"]
        )
    encoder = crw_release_encoder(path)
    assert not encoder.training and encoder.out_channels == 256
    frames = torch.randn(2, 3, 40, 56, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = crw_test_features(model.encoder.model, frames)
        found = encoder(frames)
    assert found.shape == (2, 256, 5, 7)
    assert torch.allclose(found, expected, atol=1e-5, rtol=1e-5)


def test_crw_release_weights_keep_layer4_and_head(tmp_path: Path) -> None:
    model = crw_reference_model()
    weights = crw_release_weights(
        torch.load(save_crw(model, tmp_path / "p.pth"), weights_only=False)
    )
    assert set(weights.head) == {"0.weight", "0.bias"}
    assert weights.head["0.weight"].shape == (128, 512)
    assert "layer4.1.bn2.running_var" in weights.trunk and "fc.weight" not in weights.trunk
    assert len(weights.trunk) == 120  # 122 keys in CRW's state dict, minus the head's 2


def test_crw_release_names_bad_keys(tmp_path: Path) -> None:
    state = crw_reference_model().state_dict()
    del state["encoder.model.layer3.1.bn1.weight"]
    state["encoder.model.layer5.weight"] = torch.zeros(1)
    path = tmp_path / "bad_crw.pth"
    torch.save({"model": state}, path)
    with pytest.raises(ValueError, match="bad_crw.pth") as info:
        crw_release_encoder(path)
    assert "layer3.1.bn1.weight" in str(info.value) and "layer5.weight" in str(info.value)
    state = crw_reference_model().state_dict()
    state["selfsim_fc.0.weight"] = torch.zeros(128, 256)
    torch.save({"model": state}, path)
    with pytest.raises(ValueError, match=r"expected \(D, 512\)"):
        crw_release_encoder(path)
