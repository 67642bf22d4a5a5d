"""CRWSystem: encoder + node head + walk loss equal CRW's own model end to end, and the shared
run-time policy (NaN guard, warm-up, counters) works for it under Lightning.

Reference numbers (``E2E_REFERENCE``) come from CRW's code, ajabri/videowalk at commit
047f3f40135a4b1be2f837793b89c3dbfe7a6683, run from a scratch copy outside this repository
(``python /tmp/crwref/run_ref.py e2e``, the script of tests/test_crw_loss.py's docstring; torch
2.14.1,
CPU; visualisation-only imports stubbed): ``model.CRW(argparse.Namespace(dropout=<0.0 | 0.1>,
featdrop=0.0, temp=0.05, head_depth=0, flip=False, sk_targets=False, device="cpu",
model_type="scratch", remove_layers=[]))`` (ResNet-18, reflect padding, layer3/4 at stride 1,
``selfsim_fc`` 512 -> 128), every weight set by ``filled_state(state_dict shapes, seed=3)``
below, in train mode, on ``x = e2e_patches().reshape(B, T, N * 3, P, P)`` after
``torch.manual_seed(7)``; printed: its loss and its diags (walks of 2 and 3 steps out).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from cyclecorr.eval.encoders.published import crw_release_weights, resnet_layout
from cyclecorr.losses.crw import CRWLoss
from cyclecorr.models.encoder import Encoder
from cyclecorr.models.node_head import NodeHead
from cyclecorr.systems.crw import CRWSystem
from helpers.lightning import NanOnCalls, quiet_trainer

E2E_REFERENCE = {  # dropout: (loss, [xent 2 steps, xent 3 steps], [acc 2 steps, acc 3 steps])
    0.0: (0.98012375831604, [0.8332610130310059, 1.1269865036010742], [1.0, 0.9166666865348816]),
    0.1: (
        1.3293014764785767,
        [1.1472529172897339, 1.5113500356674194],
        [0.8333333134651184, 0.6666666865348816],
    ),
}


def filled_state(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, Tensor]:
    """Deterministic weights: keys in sorted order, uniform draws from one generator."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Tensor] = {}
    for key in sorted(shapes):
        shape = shapes[key]
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0)
            continue
        values = torch.rand(shape, generator=gen)
        if key.endswith("running_var"):
            out[key] = 0.5 + values
        elif key.endswith("running_mean"):
            out[key] = (values - 0.5) * 0.2
        elif len(shape) >= 2:
            out[key] = (values - 0.5) * 2 * math.sqrt(3 / math.prod(shape[1:]))
        elif key.endswith("weight"):
            out[key] = 0.5 + values
        else:
            out[key] = (values - 0.5) * 0.2
    return out


def e2e_patches(b: int = 2, t: int = 4, n: int = 6, p: int = 32) -> Tensor:
    """``(B, T, N, 3, P, P)``: the same N random patches in every frame, shuffled, plus noise."""
    gen = torch.Generator().manual_seed(1)
    base = torch.randn(b, n, 3, p, p, generator=gen)
    perms = [torch.randperm(n, generator=gen) for _ in range(t)]
    noise = torch.randn(b, t, n, 3, p, p, generator=gen)
    return torch.stack([base[:, perm] for perm in perms], dim=1) + 0.1 * noise


def crw_system(encoder: nn.Module, edge_dropout: float = 0.1, **kwargs: Any) -> CRWSystem:
    return CRWSystem(
        encoder=encoder,
        head=functools.partial(NodeHead, depth=0, out_channels=128),
        loss=CRWLoss(temperature=0.05, edge_dropout=edge_dropout),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        **kwargs,
    )


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_system_equals_crw_model_end_to_end(dropout: float) -> None:
    shapes = {f"encoder.model.{k}": s for k, s in resnet_layout("resnet18").items()}
    shapes |= {"selfsim_fc.0.weight": (128, 512), "selfsim_fc.0.bias": (128,)}
    weights = crw_release_weights(filled_state(shapes, seed=3))
    encoder = Encoder("resnet18", "layer4", out_channels=None, padding_mode="reflect")
    encoder.load_trunk_state_dict(weights.trunk)
    system = crw_system(encoder, edge_dropout=dropout)
    system.head.mlp.load_state_dict(weights.head)
    system.train()
    with torch.no_grad():
        out = system.loss(system.embed_nodes(e2e_patches()), torch.Generator().manual_seed(7))
    total, xents, accs = E2E_REFERENCE[dropout]
    assert out.total.item() == pytest.approx(total, abs=1e-5)
    assert out.xents.tolist() == pytest.approx(xents, abs=1e-5)
    assert out.accs.tolist() == pytest.approx(accs, abs=1e-6)


# ------------------------------------------------------------------- Lightning runs
def tiny_encoder() -> Encoder:
    torch.manual_seed(0)
    return Encoder("resnet18", "layer2", out_channels=None, padding_mode="reflect")


def patch_loader(num: int = 8) -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    samples = [
        {
            "patches": torch.randn(3, 4, 3, 16, 16, generator=gen),
            "index": torch.tensor(i),
            "skipped": torch.tensor(1),
        }
        for i in range(num)
    ]
    return DataLoader(samples, batch_size=2)  # type: ignore[arg-type]


class HeadWatch(pl.Callback):
    def __init__(self) -> None:
        self.head: list[Tensor] = []
        self.encoder: list[Tensor] = []

    def on_train_batch_end(self, trainer: Any, module: Any, out: Any, batch: Any, i: int) -> None:
        self.head.append(module.head.mlp[0].weight.detach().clone())
        self.encoder.append(module.encoder.trunk.conv1.weight.detach().clone())


def test_training_logs_walk_metrics_and_skips_nonfinite_steps() -> None:
    system = crw_system(tiny_encoder())
    system.loss = NanOnCalls(system.loss, {1})
    watch = HeadWatch()
    run = quiet_trainer(max_steps=3, callbacks=[watch], limit_val_batches=2)
    run.fit(system, train_dataloaders=patch_loader())
    metrics = run.callback_metrics
    assert {"train/loss", "train/acc", "train/xent_walk2", "train/acc_walk2"} <= set(metrics)
    assert "train/xent_walk3" not in metrics  # T = 3 frames: one walk, 2 steps out
    assert system.nonfinite_steps == 1 and float(metrics["train/nonfinite_steps"]) == 1.0
    assert torch.equal(watch.head[1], watch.head[0])  # the NaN step moved nothing
    assert not torch.equal(watch.head[2], watch.head[1])
    assert system.skipped_videos == 6  # 3 batches x 2 clips x 1 skipped video


def test_encoder_warmup_is_shared_with_timecycle() -> None:
    system = crw_system(tiny_encoder(), freeze_encoder_steps=1)
    watch = HeadWatch()
    before = system.encoder.trunk.conv1.weight.detach().clone()
    quiet_trainer(max_steps=2, callbacks=[watch], limit_val_batches=2).fit(
        system, train_dataloaders=patch_loader()
    )
    assert torch.equal(watch.encoder[0], before)  # frozen on step 0
    assert not torch.equal(watch.encoder[1], before)  # trained from step 1
    assert not torch.equal(watch.head[0], system.head.mlp[0].weight)  # head trained throughout


def test_validation_has_no_edge_dropout() -> None:
    metrics = []
    for rate in (0.0, 0.5):
        run = quiet_trainer(max_steps=1, limit_val_batches=2)
        run.validate(crw_system(tiny_encoder(), edge_dropout=rate), patch_loader(), verbose=False)
        metrics.append({k: float(v) for k, v in run.callback_metrics.items()})
    assert metrics[0] == metrics[1]
    assert {"val/loss", "val/acc", "val/xent_walk2", "val/acc_walk2"} <= set(metrics[0])
    assert 0.0 < metrics[0]["val/loss"] < math.log(4) + 0.5


def test_dropout_generator_is_seeded_per_step() -> None:
    system = crw_system(tiny_encoder(), dropout_seed=5)
    first = torch.rand(4, generator=system.dropout_generator())
    assert torch.equal(first, torch.rand(4, generator=system.dropout_generator()))
    other = crw_system(tiny_encoder(), dropout_seed=6)
    assert not torch.equal(first, torch.rand(4, generator=other.dropout_generator()))


def test_encoder_without_channels_is_refused() -> None:
    with pytest.raises(TypeError, match="out_channels"):
        crw_system(nn.Identity())
    with pytest.raises(ValueError, match=r"\(B, T, N, 3, P, P\)"):
        crw_system(tiny_encoder()).embed_nodes(torch.zeros(2, 3, 3, 16, 16))
