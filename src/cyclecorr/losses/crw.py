"""The contrastive random walk loss (Jabri, Owens, Efros, NeurIPS 2020; ajabri/videowalk).

A walker starts at each node of frame 0, walks forward ``k`` frames by the transition matrices
and back again along the palindrome; it should return to where it started. For a clip of ``T``
frames and ``k = 2 .. T-1`` steps out (no 1-step cycle, as in the reference's ``forward``)::

    W_k = F_0 F_1 ... F_{k-1} B_{k-1} ... B_1 B_0          (N x N, rows sum to 1)
    L_k = mean_{b, n} -log_softmax( log(W_k + 1e-20) )[n, n]     (cross-entropy, targets = I)
    L   = mean_k L_k

products taken left to right as the reference does (its ``aar``, ``flip=False``). ``flip=True``
uses the reference's other product ``aal = B_0 B_1 ... B_{k-1} F_{k-1} ... F_0`` (its
``--flip``, described there as a bug). Walk accuracy: the fraction of start nodes whose most
likely end node is themselves. The transition matrices come from
``cyclecorr.ops.transitions`` (temperature, edge dropout, active in training mode only).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cyclecorr.ops.transitions import Transitions, frame_affinities, transition_matrices

EPS = 1e-20  # inside the log, as the reference


class CRWLossOutput(NamedTuple):
    """Result of ``CRWLoss``.

    Attributes:
        total: scalar, the mean of ``xents``.
        xents: ``(W,)`` cross-entropy of each palindrome, ``W = T - 2`` walks.
        accs: ``(W,)`` walk accuracy in ``[0, 1]`` of each palindrome (no gradient).
        steps: ``(W,)`` int64 steps out of each walk (``2 .. T-1``).
    """

    total: Tensor
    xents: Tensor
    accs: Tensor
    steps: Tensor


def chain(matrices: list[Tensor]) -> Tensor:
    """Left-to-right product ``M_0 @ M_1 @ ... @ M_last`` of ``(B, N, N)`` matrices."""
    product = matrices[0]
    for matrix in matrices[1:]:
        product = product @ matrix
    return product


def palindromes(transitions: Transitions, flip: bool = False) -> list[Tensor]:
    """The palindrome walks of 2 .. S steps out and the same steps back.

    Args:
        transitions: ``forward`` / ``backward`` ``(B, S, N, N)`` with ``S = T - 1 >= 2``.
        flip: compose the reference's ``aal`` product instead of ``aar`` (module docstring).

    Returns:
        ``S - 1`` tensors ``(B, N, N)``, the walk of ``k = 2 .. S`` steps out, rows sum to 1.
    """
    steps = transitions.forward.shape[1]
    forward = list(transitions.forward.unbind(1))  # S x (B, N, N)
    backward = list(transitions.backward.unbind(1))
    walks = []
    for k in range(2, steps + 1):
        path = forward[:k] + backward[:k][::-1]  # F_0 .. F_{k-1}, B_{k-1} .. B_0
        walks.append(chain(path[::-1]) if flip else chain(path))
    return walks


def walk_cross_entropy(walk: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Cross-entropy of a walk against the identity, and its accuracy.

    Args:
        walk: ``(B, N, N)`` row-stochastic.
        eps: added inside the log.

    Returns:
        ``(xent, acc)``: scalars; ``xent`` is the mean over ``B * N`` start nodes of
        ``cross_entropy(log(walk + eps), n)``; ``acc`` the fraction whose argmax is ``n``.
    """
    batch, nodes = walk.shape[:2]
    logits = torch.log(walk + eps).flatten(0, 1)  # (B*N, N)
    target = torch.arange(nodes, device=walk.device).repeat(batch)  # (B*N,)
    xent = F.cross_entropy(logits, target)
    acc = (logits.detach().argmax(dim=-1) == target).float().mean()
    return xent, acc


class CRWLoss(nn.Module):
    """Palindrome cross-entropy over a clip's node embeddings.

    Args:
        temperature: softmax temperature of the transitions (CRW README ``--temp 0.05``).
        edge_dropout: edge dropout rate in training mode (CRW README ``--dropout 0.1``); no
            dropout in eval mode.
        flip: the reference's ``--flip`` product order (default off, as there).
        backward_keeps_forward_drops: the reference's shared dropout mask (see
            ``cyclecorr.ops.transitions``).
        eps: added to the walk probabilities inside the log (1e-20).
    """

    def __init__(
        self,
        temperature: float = 0.05,
        edge_dropout: float = 0.1,
        flip: bool = False,
        backward_keeps_forward_drops: bool = True,
        eps: float = EPS,
    ) -> None:
        super().__init__()
        if temperature <= 0 or not 0.0 <= edge_dropout < 1.0:
            raise ValueError(
                f"{__name__}: need temperature > 0 and 0 <= edge_dropout < 1, "
                f"found temperature={temperature}, edge_dropout={edge_dropout}; fix model.loss."
            )
        self.temperature = temperature
        self.edge_dropout = edge_dropout
        self.flip = flip
        self.backward_keeps_forward_drops = backward_keeps_forward_drops
        self.eps = eps

    def transitions(self, nodes: Tensor, generator: torch.Generator | None = None) -> Transitions:
        """Transition matrices of a clip; edge dropout only in training mode."""
        return transition_matrices(
            frame_affinities(nodes),
            self.temperature,
            self.edge_dropout if self.training else 0.0,
            generator,
            self.backward_keeps_forward_drops,
        )

    def forward(self, nodes: Tensor, generator: torch.Generator | None = None) -> CRWLossOutput:
        """Loss of one batch of clips.

        Args:
            nodes: ``(B, T, N, D)`` L2-normalised node embeddings, ``T >= 3``. Computed in
                float32 whatever the autocast state (probabilities of long walks underflow in
                bf16).
            generator: source of the edge-dropout masks (``None``: torch's default generator).

        Returns:
            ``CRWLossOutput`` with ``T - 2`` walks.
        """
        if nodes.ndim != 4 or nodes.shape[1] < 3:
            raise ValueError(
                f"{__name__}: expected nodes (B, T, N, D) with T >= 3 frames (the "
                f"shortest palindrome walks 2 steps out), found {tuple(nodes.shape)}; set "
                "data.clip_len >= 3 (CRW: 4)."
            )
        with torch.autocast(device_type=nodes.device.type, enabled=False):
            walks = palindromes(self.transitions(nodes.float(), generator), self.flip)
            pairs = [walk_cross_entropy(walk, self.eps) for walk in walks]
        xents = torch.stack([xent for xent, _ in pairs])  # (W,)
        accs = torch.stack([acc for _, acc in pairs])  # (W,)
        steps = torch.arange(2, nodes.shape[1], device=nodes.device)  # (W,)
        return CRWLossOutput(xents.mean(), xents, accs, steps)
