"""Golden tests of the contrastive random walk maths (ops/transitions.py, losses/crw.py).

The reference numbers below were produced with CRW's own code, ajabri/videowalk at commit
047f3f40135a4b1be2f837793b89c3dbfe7a6683, from a scratch copy outside this repository
(``git -C /work/.mirror/ajabri+videowalk/repo archive 047f3f4 code | tar -x -C /tmp/crwref``;
``python /tmp/crwref/run_ref.py walk`` with torch 2.14.1 on CPU, one thread), a script that builds
``model.CRW`` with ``argparse.Namespace(dropout=<0.0 | 0.1>, featdrop=0.0, temp=0.05,
head_depth=0, flip=False, sk_targets=False, device="cpu", model_type="scratch",
remove_layers=[])`` (visualisation-only imports stubbed), replaces its ``pixels_to_nodes`` by one
returning fixed nodes ``q = nodes.permute(0, 3, 1, 2)`` (its ``(B, C, T, N)`` layout), with
``nodes`` as in ``reference_nodes`` below, calls ``torch.manual_seed(7)`` and then
``model(torch.zeros(B, T, N * 3, 8, 8))`` in train mode, and prints its loss and its
``diags`` ("8 xent cyc r1".. and "8 acc cyc r1".., walks of 2, 3, 4 steps out). With edge
dropout, the reference draws its masks with ``torch.rand_like`` from the global generator seeded
7; ours draw from ``torch.Generator().manual_seed(7)``: the same stream.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cyclecorr.losses.crw import CRWLoss, palindromes, walk_cross_entropy
from cyclecorr.ops.transitions import (
    Transitions,
    edge_drop_masks,
    frame_affinities,
    transition_matrices,
)

# reference output (see the module docstring): loss, per-walk xent, per-walk acc
REFERENCE = {
    0.0: (2.3604090213775635, [1.9043282270431519, 2.5472092628479004, 2.6296896934509277]),
    0.1: (2.771059989929199, [2.4193220138549805, 2.892306089401245, 3.001551628112793]),
}
REFERENCE_ACCS = [0.4444444477558136, 0.2777777910232544, 0.2222222238779068]


def reference_nodes() -> torch.Tensor:
    """``(2, 5, 9, 16)`` unit nodes: ``normalize(randn(B, T, N, D, generator=seed 0), dim=-1)``."""
    gen = torch.Generator().manual_seed(0)
    return F.normalize(torch.randn(2, 5, 9, 16, generator=gen), dim=-1)


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_loss_equals_the_reference_code(dropout: float) -> None:
    loss = CRWLoss(temperature=0.05, edge_dropout=dropout).train()
    out = loss(reference_nodes(), torch.Generator().manual_seed(7))
    total, xents = REFERENCE[dropout]
    assert out.total.item() == pytest.approx(total, abs=2e-6)
    assert out.xents.tolist() == pytest.approx(xents, abs=2e-6)
    assert out.accs.tolist() == pytest.approx(REFERENCE_ACCS, abs=1e-7)
    assert out.steps.tolist() == [2, 3, 4]  # no 1-step cycle


def test_independent_backward_masks_are_not_the_reference() -> None:
    """The reference's backward matrices keep the forward drops; drawing them apart differs."""
    loss = CRWLoss(edge_dropout=0.1, backward_keeps_forward_drops=False).train()
    out = loss(reference_nodes(), torch.Generator().manual_seed(7))
    assert abs(out.total.item() - REFERENCE[0.1][0]) > 1e-3


def permuted_orthogonal_nodes(b: int = 2, t: int = 5, n: int = 6, d: int = 8) -> torch.Tensor:
    """Orthonormal nodes, the same set in every frame in a different order: ``(B, T, N, D)``."""
    gen = torch.Generator().manual_seed(1)
    basis = torch.linalg.qr(torch.randn(d, d, generator=gen)).Q[:n]  # (N, D) orthonormal rows
    frames = [basis[torch.randperm(n, generator=gen)] for _ in range(t)]
    return torch.stack(frames)[None].repeat(b, 1, 1, 1)


def test_permutation_equivariant_graph_has_zero_loss_at_the_identity() -> None:
    nodes = permuted_orthogonal_nodes()
    # exact permutation transitions: every palindrome is the identity, loss 0 up to the 1e-20 eps
    affinity = frame_affinities(nodes)  # (B, T-1, N, N): permutation matrices
    assert torch.allclose(affinity, affinity.round(), atol=1e-6)
    assert torch.equal(affinity.round().sum(-1), torch.ones(2, 4, 6))
    perms = Transitions(affinity.round(), affinity.round().transpose(-1, -2))
    for walk in palindromes(perms):
        assert torch.equal(walk, torch.eye(6).expand_as(walk))
        xent, acc = walk_cross_entropy(walk)
        assert xent.item() == pytest.approx(0.0, abs=1e-12) and acc.item() == 1.0
    # through the softmax: the loss falls to 0 as the temperature does
    totals = [CRWLoss(temperature=tau, edge_dropout=0.0)(nodes).total.item() for tau in (0.1, 0.05)]
    assert totals[1] < totals[0] < 3e-3 and totals[1] < 1e-6  # leak ~ 2k (N-1) exp(-1 / tau)
    assert CRWLoss(0.05, 0.0)(nodes).accs.tolist() == [1.0, 1.0, 1.0]


def test_shuffled_frames_are_not_cycle_consistent() -> None:
    """A walk that cannot come back (unrelated frames) scores near ln N, chance accuracy."""
    gen = torch.Generator().manual_seed(2)
    nodes = F.normalize(torch.randn(4, 4, 16, 64, generator=gen), dim=-1)
    out = CRWLoss(temperature=1.0, edge_dropout=0.0)(nodes)
    assert out.total.item() == pytest.approx(torch.log(torch.tensor(16.0)).item(), abs=0.05)


@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_transitions_are_row_stochastic(rate: float) -> None:
    affinity = frame_affinities(reference_nodes())
    gen = torch.Generator().manual_seed(0)
    trans = transition_matrices(affinity, 0.05, rate, gen)
    for matrix in trans:
        assert matrix.shape == (2, 4, 9, 9) and bool((matrix >= 0).all())
        assert torch.allclose(matrix.sum(-1), torch.ones(2, 4, 9), atol=1e-6)
    assert torch.allclose(trans.forward, F.softmax(affinity / 0.05, -1)) == (rate == 0.0)
    for walk in palindromes(trans):
        assert torch.allclose(walk.sum(-1), torch.ones(2, 9), atol=1e-5)


def test_edge_dropout_follows_the_generator_and_drops_exactly() -> None:
    affinity = frame_affinities(reference_nodes())

    def run(seed: int) -> Transitions:
        return transition_matrices(affinity, 0.05, 0.2, torch.Generator().manual_seed(seed))

    first, again, other = run(3), run(3), run(4)
    assert torch.equal(first.forward, again.forward) and torch.equal(first.backward, again.backward)
    assert not torch.equal(first.forward, other.forward)
    # the masks: forward steps drawn first, then backward ones, each (B, N, N) in (n, m) layout
    gen = torch.Generator().manual_seed(3)
    fwd = edge_drop_masks(affinity.shape, 0.2, gen, affinity.device)
    bwd = edge_drop_masks(affinity.shape, 0.2, gen, affinity.device) | fwd
    assert torch.equal(first.forward == 0, fwd)
    assert torch.equal(first.backward == 0, bwd.transpose(-1, -2))
    assert 0.15 < fwd.float().mean().item() < 0.25


def test_no_edge_dropout_in_eval_mode() -> None:
    nodes = reference_nodes()
    loss = CRWLoss(edge_dropout=0.5).eval()
    out = loss(nodes, torch.Generator().manual_seed(0))
    assert out.total.item() == pytest.approx(REFERENCE[0.0][0], abs=2e-6)
    assert CRWLoss(edge_dropout=0.5).train()(nodes).total.item() != pytest.approx(out.total.item())


def test_flip_composes_the_other_product() -> None:
    trans = transition_matrices(frame_affinities(reference_nodes()), 0.05)
    f, b = trans.forward[:, :2].unbind(1), trans.backward[:, :2].unbind(1)
    assert torch.allclose(palindromes(trans)[0], f[0] @ f[1] @ b[1] @ b[0])
    assert torch.allclose(palindromes(trans, flip=True)[0], b[0] @ b[1] @ f[1] @ f[0])


def test_loss_runs_in_float32_under_autocast_and_has_gradients() -> None:
    nodes = reference_nodes().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = CRWLoss(edge_dropout=0.0)(nodes)
    assert out.total.dtype == torch.float32
    assert out.total.item() == pytest.approx(REFERENCE[0.0][0], abs=2e-6)
    out.total.backward()
    assert nodes.grad is not None and bool(torch.isfinite(nodes.grad).all())


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="T >= 3"):
        CRWLoss()(torch.zeros(1, 2, 4, 8))
    with pytest.raises(ValueError, match="temperature > 0"):
        CRWLoss(temperature=0.0)
    with pytest.raises(ValueError, match="0 <= drop_rate < 1"):
        transition_matrices(torch.zeros(1, 1, 2, 2), 0.05, 1.0)
