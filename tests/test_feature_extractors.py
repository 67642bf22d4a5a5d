"""Tests for the evaluation encoders (cyclecorr.eval.feature_extractors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cyclecorr.eval.feature_extractors import build_eval_encoder, infer_architecture
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
    model = build_eval_encoder("checkpoint", path, arch="resnet18", stop_at="layer2")
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
    model = build_eval_encoder("checkpoint", _save_ckpt(tmp_path, trained), arch=None)
    x = _images()
    torch.testing.assert_close(model(x), trained(x))
    with pytest.raises(ValueError, match="cannot read the architecture"):
        infer_architecture({"proj.0.weight": torch.zeros(8, 128, 1, 1)})


def test_checkpoint_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_eval_encoder("checkpoint", tmp_path / "nope.ckpt", arch="resnet18")
    path = _save_ckpt(tmp_path, Encoder(**SMALL))
    with pytest.raises(ValueError, match="missing .*layer3"):
        build_eval_encoder("checkpoint", path, arch="resnet18", stop_at="layer4")
    with pytest.raises(ValueError, match="arch"):
        build_eval_encoder("checkpoint", path, arch="resnet50", stop_at="layer2")
    bare = tmp_path / "bare.pt"
    torch.save({"model.weight": torch.zeros(1)}, bare)
    with pytest.raises(ValueError, match="no 'encoder.\\*' weights.*model.weight"):
        build_eval_encoder("checkpoint", bare, arch="resnet18")


def test_checkpoint_with_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "obj": Path("x")}, path)  # not loadable with weights_only
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        build_eval_encoder("checkpoint", path, arch="resnet18")


def test_torchvision_state_dict_drops_projection(tmp_path: Path) -> None:
    import torchvision

    resnet = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(resnet.state_dict(), path)
    model = build_eval_encoder("torchvision", path, arch="resnet18", stop_at="layer2")
    x = _images()
    resnet.eval()
    expected = resnet.layer2(
        resnet.layer1(resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(x)))))
    )
    torch.testing.assert_close(model(x), expected)


def test_random_is_deterministic_per_seed_and_leaves_global_rng() -> None:
    state = torch.random.get_rng_state()
    a = build_eval_encoder("random", arch="resnet18", stop_at="layer2", seed=3, out_channels=16)
    b = build_eval_encoder("random", arch="resnet18", stop_at="layer2", seed=3, out_channels=16)
    c = build_eval_encoder("random", arch="resnet18", stop_at="layer2", seed=4, out_channels=16)
    assert torch.equal(torch.random.get_rng_state(), state)
    x = _images()
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))


@pytest.mark.parametrize("color", ["lab", "rgb"])
def test_pixels_shape_and_values(color: str) -> None:
    from cyclecorr.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    model = build_eval_encoder("pixels", color=color)  # type: ignore[arg-type]
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
    with pytest.raises(ValueError, match="unknown encoder kind"):
        build_eval_encoder("dino")  # type: ignore[arg-type]
