"""``model.compile=true`` compiles the networks in place and leaves the loss unchanged.

The tiny TimeCycle config (``debug=tiny``: 72 px crops, ResNet-18 to layer2, batch 2) is built
twice from the same seed, once eager and once compiled (TorchInductor's CPU backend, which needs a
C++ compiler); one loss and its gradients are compared. ``k = 1`` keeps the compilation short
(the tracker then sees one batch size; every further size is one more shape-specialised graph):
about 110 s on 2 busy cores, which is why the test is ``slow``. Skips, saying why, where
``torch.compile`` cannot run.
"""

from __future__ import annotations

import functools

import hydra
import pytest
import torch
from torch import nn

from cyclecorr.benchmark.training import compose_train_config, random_batch
from cyclecorr.systems.timecycle import TimeCycleSystem

TINY = ["debug=tiny", "data.clip_len=1"]


@functools.cache
def compile_unavailable() -> str | None:
    """Why ``torch.compile`` cannot run here (None when it can): compile one small function."""
    try:
        compiled = torch.compile(lambda x: torch.relu(x) * 2 + 1)
        if not torch.equal(compiled(torch.tensor([-1.0, 1.0])), torch.tensor([1.0, 3.0])):
            return "torch.compile returned wrong values for relu(x) * 2 + 1"
    except Exception as err:  # no C++ compiler, unsupported Python, ...
        return f"torch.compile is unavailable here ({type(err).__name__}: {err})"
    return None


def build(compiled: bool) -> tuple[TimeCycleSystem, dict[str, torch.Tensor]]:
    """The tiny system (weights from seed 0) and a random batch of its size."""
    cfg = compose_train_config([*TINY, f"model.compile={str(compiled).lower()}"])
    torch.manual_seed(0)
    system = hydra.utils.instantiate(cfg.model).train()
    return system, random_batch(cfg, torch.device("cpu"))


def is_compiled(module: nn.Module) -> bool:
    """Whether ``nn.Module.compile`` was applied to ``module`` (in place)."""
    return getattr(module, "_compiled_call_impl", None) is not None


def test_compile_is_off_by_default_and_keeps_the_parameter_names() -> None:
    eager, _ = build(compiled=False)
    assert not is_compiled(eager.encoder) and not is_compiled(eager.tracker)
    compiled, _ = build(compiled=True)  # nn.Module.compile is lazy: nothing compiles yet
    assert is_compiled(compiled.encoder) and is_compiled(compiled.tracker)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints load either way


@pytest.mark.slow
def test_compiled_loss_equals_the_eager_loss() -> None:
    reason = compile_unavailable()
    if reason is not None:
        pytest.skip(reason)
    eager, batch = build(compiled=False)
    compiled, _ = build(compiled=True)
    want = eager.compute_loss(batch)
    got = compiled.compute_loss(batch)
    assert torch.isfinite(want.total) and want.total.abs() > 0
    torch.testing.assert_close(got.total, want.total, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.long_thetas, want.long_thetas, rtol=1e-4, atol=1e-5)
    want.total.backward()
    got.total.backward()
    for (name, p_want), p_got in zip(eager.named_parameters(), compiled.parameters()):
        assert p_want.grad is not None and p_got.grad is not None, name
        # float32 kernels fused in another order: relative to the gradient's size
        error = (p_got.grad - p_want.grad).norm() / p_want.grad.norm().clamp_min(1e-12)
        assert error < 1e-3, f"{name}: relative gradient difference {error:.2e}"
