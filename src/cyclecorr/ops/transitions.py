"""Transition matrices of the contrastive random walk, with edge dropout.

For L2-normalised node embeddings ``q_t`` (``N`` nodes per frame), the affinity between
consecutive frames is ``A_t = q_t q_{t+1}^T`` (``(N, N)``, cosine similarities) and the walk's
transition matrices are row softmaxes at temperature ``tau`` (CRW ``--temp``, 0.05)::

    forward  F_t = softmax_rows( A_t   / tau )      (frame t   -> frame t+1)
    backward B_t = softmax_rows( A_t^T / tau )      (frame t+1 -> frame t)

Edge dropout (CRW ``--dropout``, 0.1; ``stoch_mat``): before the softmax, each entry is set to
``-1e20`` with probability ``rate``, so the walk cannot take that edge. The reference draws a fresh
mask for every matrix, all forward matrices first, then all backward ones. It writes the forward
mask *in place* into the affinity it shares with the backward direction, so a backward matrix also
loses the (transposed) edges its forward matrix dropped: the backward drop set is
``forward mask | its own mask``. ``backward_keeps_forward_drops=True`` (default) reproduces this;
``False`` draws the two directions independently. Masks are drawn in the forward ``(n, m)`` layout
of ``A_t`` with ``torch.rand`` from the generator passed in, which gives the reference's masks
for the same seed of its global generator.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

DROPPED_LOGIT = -1e20  # CRW's value for a dropped edge (before dividing by the temperature)


class Transitions(NamedTuple):
    """Row-stochastic transition matrices between consecutive frames.

    Attributes:
        forward: ``(B, T-1, N, N)``; ``forward[:, t]`` maps frame t's nodes (rows) to frame t+1's.
        backward: ``(B, T-1, N, N)``; ``backward[:, t]`` maps frame t+1's nodes to frame t's.
    """

    forward: Tensor
    backward: Tensor


def frame_affinities(nodes: Tensor) -> Tensor:
    """Cosine affinities between the nodes of consecutive frames.

    Args:
        nodes: ``(B, T, N, D)`` L2-normalised (over D) node embeddings.

    Returns:
        ``(B, T-1, N, N)``; entry ``[b, t, n, m] = <nodes[b, t, n], nodes[b, t+1, m]>``.
    """
    if nodes.ndim != 4 or nodes.shape[1] < 2:
        raise ValueError(
            f"{__name__}: expected nodes (B, T, N, D) with T >= 2, found {tuple(nodes.shape)}."
        )
    return torch.einsum("btnd,btmd->btnm", nodes[:, :-1], nodes[:, 1:])  # (B, T-1, N, N)


def edge_drop_masks(
    shape: torch.Size, rate: float, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """Bernoulli(``rate``) masks, one ``(B, N, N)`` draw per step in order.

    Args:
        shape: ``(B, S, N, N)``.
        rate: drop probability in ``[0, 1)``.
        generator: source of the draws (``None``: torch's default generator).
        device: where to draw.

    Returns:
        ``(B, S, N, N)`` bool, True where the edge is dropped.
    """
    batch, steps = shape[:2]
    draws = [
        torch.rand((batch, *shape[2:]), generator=generator, device=device) for _ in range(steps)
    ]
    return torch.stack(draws, dim=1) < rate  # (B, S, N, N)


def transition_matrices(
    affinities: Tensor,
    temperature: float,
    drop_rate: float = 0.0,
    generator: torch.Generator | None = None,
    backward_keeps_forward_drops: bool = True,
) -> Transitions:
    """Forward and backward transition matrices, with edge dropout.

    Args:
        affinities: ``(B, S, N, N)`` from ``frame_affinities`` (S = T-1 steps).
        temperature: softmax temperature tau (> 0).
        drop_rate: edge dropout probability (0 = none).
        generator: source of the dropout masks.
        backward_keeps_forward_drops: the reference's shared-mask behaviour (module docstring).

    Returns:
        ``Transitions`` whose rows are non-negative and sum to 1; dropped edges are exactly 0
        (unless a whole row was dropped, which leaves that row uniform, as in the reference).
    """
    if temperature <= 0 or not 0.0 <= drop_rate < 1.0:
        raise ValueError(
            f"{__name__}: need temperature > 0 and 0 <= drop_rate < 1, found "
            f"temperature={temperature}, drop_rate={drop_rate}; fix model.loss."
        )
    forward_logits, backward_logits = affinities, affinities
    if drop_rate > 0:
        device = affinities.device
        fwd_drop = edge_drop_masks(affinities.shape, drop_rate, generator, device)
        bwd_drop = edge_drop_masks(affinities.shape, drop_rate, generator, device)
        if backward_keeps_forward_drops:
            bwd_drop = bwd_drop | fwd_drop
        forward_logits = affinities.masked_fill(fwd_drop, DROPPED_LOGIT)
        backward_logits = affinities.masked_fill(bwd_drop, DROPPED_LOGIT)
    forward = F.softmax(forward_logits / temperature, dim=-1)
    backward = F.softmax(backward_logits.transpose(-1, -2) / temperature, dim=-1)
    return Transitions(forward, backward)
