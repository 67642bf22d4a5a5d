"""Randomly initialised encoders: lower bounds for learned features, and CRW's scratch model.

- ``random_encoder``: an untrained ``Encoder`` built under a fixed seed (a forked RNG: the global
  one is left untouched).
- ``crw_scratch_encoder``: CRW's ``--model-type scratch`` test encoder (ajabri/videowalk):
  ResNet-18 with reflect padding on every padded convolution, ``layer3`` at stride 1, ``layer4``
  dropped, the 256-d ``layer3`` output with no head. From a state dict (``path``) or, without
  one, initialised as CRW's ``test.py`` does: seed 777, then the two dummy train-mode forwards CRW
  runs to infer its feature size (they leave every BatchNorm ``running_var`` at 0.81); that init
  equals the weights CRW's own run saved, bit for bit (``tests/test_reference_equivalence.py``).

Both return frozen encoders mapping ImageNet-normalised images ``(N, 3, H, W)`` to features
``(N, C, H/8, W/8)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cyclecorr.eval.encoders.checkpoints import eval_encoder
from cyclecorr.eval.encoders.frozen import frozen, load_weights

CRW_SEED = 777  # ajabri/videowalk test_args --manualSeed


def random_encoder(
    arch: str = "resnet50",
    stop_at: str | None = None,
    out_channels: int | None = 512,
    seed: int = 0,
    padding_mode: str = "zeros",
    proj_bias: bool = True,
    proj_init: str = "default",
) -> nn.Module:
    """An untrained ``Encoder`` initialised under ``seed`` (arguments as ``Encoder``'s)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = eval_encoder(
            arch,
            stop_at,
            out_channels,
            padding_mode=padding_mode,
            proj_bias=proj_bias,
            proj_init=proj_init,
        )
    return frozen(model)


def crw_scratch_encoder(path: str | Path | None = None, seed: int = CRW_SEED) -> nn.Module:
    """CRW's scratch ResNet-18 at test time: reflect padding, stride 8, 256-d ``layer3``, no head.

    Args:
        path: A torchvision ResNet-18 state dict (``conv1.*`` .. ``layer3.*``; ``layer4``/``fc``
            keys are ignored), e.g. ``crw-reference/scratch_resnet18_seed777.pt``; ``None`` builds
            CRW's random initialisation.
        seed: The seed of that random initialisation (CRW's 777).
    """
    if path is not None:
        model = eval_encoder("resnet18", "layer3", None, padding_mode="reflect")
        model.load_trunk_state_dict(load_weights(path, "crw_scratch"))
        return frozen(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = eval_encoder("resnet18", "layer3", None, padding_mode="reflect")
    with torch.no_grad():  # CRW's infer_dims (256 px) and infer_downscale (320 px), train mode
        model.train()
        for side in (256, 320):
            model(torch.zeros(1, 3, side, side))
    return frozen(model)
