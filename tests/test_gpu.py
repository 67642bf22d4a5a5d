"""CUDA tests: the same maths on the GPU as on the CPU, and a bf16 training run.

Skipped where no CUDA device is present (CI has none); run them on a GPU machine with
``pytest -m gpu``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from cyclecorr.eval.propagation.attention import propagate_labels
from cyclecorr.eval.propagation.spec import AttentionSpec
from cyclecorr.models.encoder import Encoder
from cyclecorr.models.feature_sampler import crop_features
from cyclecorr.models.localizer import ProcrustesLocalizer
from cyclecorr.models.tracker import Tracker
from cyclecorr.ops.geometry import theta_from_params

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_encoder_on_cuda_matches_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # TF32 is cuDNN's default
    torch.manual_seed(0)
    encoder = Encoder("resnet18", "layer4", 512, channels_last=True).eval()
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        cpu = encoder(x)
        gpu = encoder.cuda()(x.cuda()).cpu()
    assert gpu.shape == (2, 512, 8, 10)
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("radius", [None, 3.0])
def test_propagation_on_cuda_matches_cpu(radius: float | None) -> None:
    gen = torch.Generator().manual_seed(0)
    refs = torch.randn(6, 64, 15, 17, generator=gen)
    query = refs[-1] + 0.1 * torch.randn(64, 15, 17, generator=gen)
    labels = (
        torch.nn.functional.one_hot(torch.randint(0, 3, (6, 15, 17), generator=gen), 3)
        .permute(0, 3, 1, 2)
        .float()
    )
    spec = AttentionSpec(10, "joint", 0.07, "joint", radius)
    cpu = propagate_labels(query, refs, labels, spec)
    gpu = propagate_labels(query.cuda(), refs.cuda(), labels.cuda(), spec)
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)


def test_tracker_under_bf16_autocast_recovers_a_known_motion() -> None:
    """The golden known-motion case of test_tracker.py, on CUDA under bf16 autocast."""
    gen = torch.Generator().manual_seed(0)
    frame = torch.randn(2, 64, 30, 30, generator=gen).cuda()  # a distinct vector per cell
    theta_true = theta_from_params(torch.tensor([[-0.2, 0.1, math.radians(-40)]]).expand(2, 3))
    query = crop_features(frame, theta_true.cuda(), (10, 10))
    tracker = Tracker(channels=64).cuda()
    tracker.localizer = ProcrustesLocalizer(frame_hw=(30, 30), patch_cells=10).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        step = tracker(frame, query)
    theta = step.theta.float().cpu()
    cell = 2 / 30  # one frame feature cell in normalised units
    assert (theta[:, :, 2] - theta_true[:, :, 2]).norm(dim=1).max() < 0.5 * cell
    angle = torch.atan2(theta[:, 1, 0], theta[:, 0, 0])
    assert (angle - math.radians(-40)).abs().max() < math.radians(3.0)


def test_train_runs_bf16_on_gpu(tmp_path: Path) -> None:
    import csv

    from hydra import compose, initialize_config_dir

    from cyclecorr.train import train
    from cyclecorr.utils.config import CONF_DIR, register_resolvers

    register_resolvers()
    overrides = ["debug=tiny", "trainer=gpu", "trainer.max_steps=3", "data.num_workers=0"]
    overrides += [f"paths.output_dir={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    train(cfg)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    with open(tmp_path / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert losses and all(np.isfinite(losses))


def test_crw_walk_on_cuda_matches_cpu_with_the_same_dropout_seed() -> None:
    """CUDA generators draw other masks than CPU ones: compare without dropout, and check that
    a CUDA generator seeded alike repeats its masks."""
    from cyclecorr.losses.crw import CRWLoss

    gen = torch.Generator().manual_seed(0)
    nodes = torch.nn.functional.normalize(torch.randn(2, 4, 49, 128, generator=gen), dim=-1)
    cpu = CRWLoss(edge_dropout=0.0)(nodes)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        gpu = CRWLoss(edge_dropout=0.0)(nodes.cuda())
    torch.testing.assert_close(gpu.xents.cpu(), cpu.xents, atol=1e-4, rtol=1e-4)
    loss = CRWLoss(edge_dropout=0.1).train()
    first = loss(nodes.cuda(), torch.Generator(device="cuda").manual_seed(3)).total
    again = loss(nodes.cuda(), torch.Generator(device="cuda").manual_seed(3)).total
    assert first.item() == again.item()
    assert first.item() != pytest.approx(cpu.total.item(), abs=1e-6)  # edges were dropped


def test_crw_train_runs_bf16_on_gpu(tmp_path: Path) -> None:
    import csv

    from hydra import compose, initialize_config_dir

    from cyclecorr.train import train
    from cyclecorr.utils.config import CONF_DIR, register_resolvers
    from helpers.videos import make_kinetics_tree

    register_resolvers()
    overrides = ["experiment=crw_kinetics", "debug=crw_tiny", "trainer.precision=bf16-mixed"]
    overrides += ["trainer.max_steps=3", "data.num_workers=0"]
    overrides += [f"data.root={make_kinetics_tree(tmp_path / 'tree')}"]
    overrides += [f"paths.output_dir={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    train(cfg)
    with open(tmp_path / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert losses and all(np.isfinite(losses))
