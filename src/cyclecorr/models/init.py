"""Convolution initialisation rules shared by the localizer and the encoder's projection.

``"default"`` keeps PyTorch's ``nn.Conv2d`` init (Kaiming-uniform weights with ``a = sqrt(5)``,
uniform bias). ``"kaiming_fan_out"`` is the release's rule for its 1x1 projection and both
localizer convolutions: ``kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")``, i.e.
``N(0, 2 / (out_channels * kh * kw))``, and a zero bias if the convolution has one.
"""

from __future__ import annotations

from torch import nn

CONV_INITS = ("default", "kaiming_fan_out")


def init_conv(conv: nn.Conv2d, init: str) -> None:
    """Initialise ``conv`` in place by the rule ``init`` (see the module docstring).

    Raises:
        ValueError: an unknown rule.
    """
    if init not in CONV_INITS:
        raise ValueError(f"{__name__}: unknown conv init {init!r}; expected one of {CONV_INITS}.")
    if init == "kaiming_fan_out":
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
