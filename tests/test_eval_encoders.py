"""Evaluation encoders: checkpoints, torchvision state dicts, CRW scratch, random, pixels."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cyclecorr.eval.encoders.checkpoints import (
    checkpoint_encoder,
    infer_architecture,
    torchvision_encoder,
)
from cyclecorr.eval.encoders.pixels import pixel_encoder
from cyclecorr.eval.encoders.random_init import crw_scratch_encoder, random_encoder
from cyclecorr.models.encoder import Encoder

SMALL = {"arch": "resnet18", "stop_at": "layer2", "out_channels": 16}


def _images(n: int = 2, h: int = 32, w: int = 48) -> torch.Tensor:
    return torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(0))


def _save_ckpt(tmp_path: Path, encoder: torch.nn.Module, extra: dict | None = None) -> Path:
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    state["tracker.localizer.weight"] = torch.zeros(3)  # non-encoder keys are ignored
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": extra or {}, "epoch": 3}, path)
    return path


def test_checkpoint_loads_encoder_weights_strictly(tmp_path: Path) -> None:
    torch.manual_seed(1)
    trained = Encoder(**SMALL).eval()
    path = _save_ckpt(tmp_path, trained)
    model = checkpoint_encoder(path, arch="resnet18", stop_at="layer2")
    x = _images()
    torch.testing.assert_close(model(x), trained(x))
    assert model(x).shape == (2, 16, 4, 6)
    assert not model.training and not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize(
    ("arch", "stop_at"),
    [
        ("resnet18", "layer2"),
        ("resnet18", "layer4"),
        ("resnet34", "layer3"),
        ("resnet50", "layer3"),
    ],
)
def test_architecture_is_read_from_the_weights(arch: str, stop_at: str) -> None:
    state = Encoder(arch, stop_at, out_channels=8).state_dict()
    assert infer_architecture(state) == (arch, stop_at)


def test_checkpoint_without_arch_loads_the_architecture_it_holds(tmp_path: Path) -> None:
    torch.manual_seed(2)
    trained = Encoder(**SMALL).eval()
    model = checkpoint_encoder(_save_ckpt(tmp_path, trained), arch=None)
    x = _images()
    torch.testing.assert_close(model(x), trained(x))
    with pytest.raises(ValueError, match="cannot read the architecture"):
        infer_architecture({"proj.0.weight": torch.zeros(8, 128, 1, 1)})


def test_checkpoint_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint_encoder(tmp_path / "nope.ckpt", arch="resnet18")
    path = _save_ckpt(tmp_path, Encoder(**SMALL))
    with pytest.raises(ValueError, match="missing .*layer3"):
        checkpoint_encoder(path, arch="resnet18", stop_at="layer4")
    with pytest.raises(ValueError, match="arch"):
        checkpoint_encoder(path, arch="resnet50", stop_at="layer2")
    bare = tmp_path / "bare.pt"
    torch.save({"model.weight": torch.zeros(1)}, bare)
    with pytest.raises(ValueError, match="no 'encoder.\\*' weights.*model.weight"):
        checkpoint_encoder(bare, arch="resnet18")


def test_checkpoint_with_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "obj": Path("x")}, path)  # not loadable with weights_only
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        checkpoint_encoder(path, arch="resnet18")


def test_torchvision_state_dict_drops_projection(tmp_path: Path) -> None:
    import torchvision

    resnet = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(resnet.state_dict(), path)
    model = torchvision_encoder(path, arch="resnet18", stop_at="layer2")
    x = _images()
    resnet.eval()
    expected = resnet.layer2(
        resnet.layer1(resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(x)))))
    )
    torch.testing.assert_close(model(x), expected)


def test_random_is_deterministic_per_seed_and_leaves_global_rng() -> None:
    state = torch.random.get_rng_state()
    a = random_encoder("resnet18", "layer2", 16, seed=3)
    b = random_encoder("resnet18", "layer2", 16, seed=3)
    c = random_encoder("resnet18", "layer2", 16, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    x = _images()
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))


@pytest.mark.parametrize("color", ["lab", "rgb"])
def test_pixels_shape_and_values(color: str) -> None:
    from cyclecorr.ops.normalize import IMAGENET_MEAN, IMAGENET_STD

    model = pixel_encoder(color)  # type: ignore[arg-type]
    rgb = torch.zeros(1, 3, 16, 24)
    rgb[:, 0] = 1.0  # pure red
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    out = model((rgb - mean) / std)
    assert out.shape == (1, 3, 2, 3)
    if color == "rgb":
        torch.testing.assert_close(
            out, torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1).expand_as(out)
        )
    else:  # CIE Lab of sRGB red (D65): L ~ 53.2, a ~ 80.1, b ~ 67.2
        torch.testing.assert_close(
            out[0, :, 0, 0], torch.tensor([53.24, 80.09, 67.20]), atol=0.1, rtol=0
        )
    with pytest.raises(ValueError, match="color must be"):
        pixel_encoder("hsv")  # type: ignore[arg-type]


def _stem_to(net: torch.nn.Module, x: torch.Tensor, stages: tuple[str, ...]) -> torch.Tensor:
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    for name in stages:
        x = getattr(net, name)(x)
    return x


def test_torchvision_state_dict_with_proj_weight_is_the_release_test_model(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(5)
    resnet = torchvision.models.resnet18(weights=None).eval()
    for module in resnet.layer3.modules():  # the hand-built reference: layer3 at stride 1
        if isinstance(module, torch.nn.Conv2d):
            module.stride = (1, 1)
    proj = torch.randn(32, 256, 1, 1)
    path = tmp_path / "tc.pth"
    torch.save({**resnet.state_dict(), "proj.weight": proj}, path)
    model = torchvision_encoder(path, arch="resnet18", stop_at="layer3")
    x = _images()
    trunk = _stem_to(resnet, x, ("layer1", "layer2", "layer3"))
    expected = torch.relu(torch.nn.functional.conv2d(trunk, proj))  # ReLU(proj(layer3))
    torch.testing.assert_close(model(x), expected, atol=2e-4, rtol=1e-4)  # NHWC rounding
    assert model(x).shape == (2, 32, 4, 6)


def test_crw_scratch_is_reflect_padded_layer3_without_head(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(6)
    resnet = torchvision.models.resnet18(weights=None).eval()
    for module in resnet.modules():  # CRW's modify(padding='reflect') and stride-1 layer3
        if isinstance(module, torch.nn.Conv2d) and sum(module.padding) > 0:
            module.padding_mode = "reflect"
    for module in resnet.layer3.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.stride = (1, 1)
    path = tmp_path / "crw.pth"
    state = {k: v for k, v in resnet.state_dict().items() if not k.startswith(("layer4", "fc"))}
    torch.save(state, path)
    model = crw_scratch_encoder(path)
    x = _images(h=40, w=56)
    expected = _stem_to(resnet, x, ("layer1", "layer2", "layer3"))
    torch.testing.assert_close(model(x), expected, atol=2e-4, rtol=1e-4)  # NHWC rounding
    assert model(x).shape == (2, 256, 5, 7)
    # Without a file: CRW's seed and its two train-mode dummy forwards (running_var 0.9^2).
    random = crw_scratch_encoder()
    assert random.trunk.bn1.running_var.unique().tolist() == pytest.approx([0.81])
    assert not torch.equal(random.trunk.conv1.weight, model.trunk.conv1.weight)
    with pytest.raises(ValueError, match="does not fit"):
        torch.save(torchvision.models.resnet50().state_dict(), tmp_path / "r50.pth")
        crw_scratch_encoder(tmp_path / "r50.pth")


def test_checkpoint_without_projection_bias_or_head_loads(tmp_path: Path) -> None:
    for kwargs in ({"proj_bias": False}, {"out_channels": None}):
        torch.manual_seed(7)
        trained = Encoder("resnet18", "layer2", **{"out_channels": 16, **kwargs}).eval()
        path = _save_ckpt(tmp_path, trained)
        model = checkpoint_encoder(path, arch=None)
        x = _images()
        torch.testing.assert_close(model(x), trained(x))


def test_checkpoint_layout_gives_padding_and_stop_at_cuts_a_headless_trunk(tmp_path: Path) -> None:
    torch.manual_seed(9)
    trained = Encoder("resnet18", "layer4", out_channels=None, padding_mode="reflect").eval()
    path = tmp_path / "crw.ckpt"
    state = {f"encoder.{k}": v for k, v in trained.state_dict().items()}
    torch.save({"state_dict": state, "cyclecorr_encoder": trained.layout()}, path)
    assert trained.layout() == {
        "arch": "resnet18", "stop_at": "layer4", "out_channels": None, "padding_mode": "reflect",
    }  # fmt: skip
    x = _images(h=40, w=56)
    full = checkpoint_encoder(path)  # padding from the stored layout: reflect
    torch.testing.assert_close(full(x), trained(x), atol=2e-4, rtol=1e-4)
    cut = checkpoint_encoder(path, stop_at="layer3")  # CRW's test-time depth
    reference = Encoder("resnet18", "layer3", out_channels=None, padding_mode="reflect").eval()
    reference.load_state_dict(
        {k: v for k, v in trained.state_dict().items() if not k.startswith("trunk.layer4")}
    )
    torch.testing.assert_close(cut(x), reference(x), atol=2e-4, rtol=1e-4)
    zeros = checkpoint_encoder(path, padding_mode="zeros")  # the padding matters
    assert (zeros(x) - full(x)).abs().max() > 1e-3
    projected = _save_ckpt(tmp_path, Encoder(**SMALL))
    with pytest.raises(ValueError, match="projection after its last stage"):
        checkpoint_encoder(projected, stop_at="layer1")
