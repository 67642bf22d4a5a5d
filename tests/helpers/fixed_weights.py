"""Fixed random weights that any codebase can rebuild: the same numbers from a key -> shape list.

The reference runs (``tests/fixtures/*-reference/README.md``) load these weights into the
reference code's own model, and the equivalence tests load the same numbers into ours, so no
checkpoint is ever stored. Every tensor is drawn in sorted key order from one ``torch.Generator``
(float32 ``randn``, CPU: the same numbers on every machine) and scaled by its role:

- ``num_batches_tracked``: 0 (int64);
- ``running_mean``: ``0.1 x``; ``running_var``: ``1 + 0.1 |x|``;
- tokens and position embeddings (``cls_token``, ``pos_embed``, ``reg_token``,
  ``register_tokens``, ``mask_token``): ``0.02 x``;
- other 1-d ``...weight`` / ``...gamma`` (norm and layer-scale gains): ``1 + 0.1 x``;
- other 1-d tensors (biases): ``0.1 x``;
- tensors of 2 or more dimensions: ``x / sqrt(fan_in)`` with ``fan_in = prod(shape[1:])``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

TOKEN_NAMES = ("cls_token", "pos_embed", "reg_token", "register_tokens", "mask_token")


def _scaled(key: str, x: torch.Tensor) -> torch.Tensor:
    """``x`` (standard normal) scaled for the role the key names (see the module docstring)."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "running_mean":
        return 0.1 * x
    if leaf == "running_var":
        return 1 + 0.1 * x.abs()
    if leaf in TOKEN_NAMES:
        return 0.02 * x
    if x.ndim == 1:
        return 1 + 0.1 * x if leaf in ("weight", "gamma") else 0.1 * x
    fan_in = math.prod(x.shape[1:])
    return x / math.sqrt(fan_in)


def fixed_random_state_dict(
    shapes: Mapping[str, Sequence[int]], seed: int = 0
) -> dict[str, torch.Tensor]:
    """Weights for every key of ``shapes``, drawn in sorted key order under ``seed``.

    Args:
        shapes: key -> shape (e.g. ``{k: v.shape for k, v in model.state_dict().items()}``).
        seed: Seed of the one generator all tensors are drawn from.

    Returns:
        key -> float32 tensor (``num_batches_tracked``: a 0-d int64 zero), in sorted key order.
    """
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key in sorted(shapes):
        shape = tuple(int(s) for s in shapes[key])
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros(shape, dtype=torch.long)
            continue
        out[key] = _scaled(key, torch.randn(shape, generator=gen, dtype=torch.float32))
    return out
