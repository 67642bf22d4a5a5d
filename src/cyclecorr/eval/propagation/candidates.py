"""Top-k candidates of label propagation and their weighting (METHOD.md section 5).

For a chunk of queries and a group of context frames, ``select`` keeps each query's top-k
references (inside each frame or over the group) and, for the release's rule, the full-softmax
normaliser ``logsumexp(sim / temperature)`` of its scope; ``combine`` merges the groups of one
query chunk (a joint top-k of their candidates), turns the kept similarities into weights (a
softmax over the kept ones, or ``exp(s / temperature - lse)`` unrenormalised) and returns the
weighted sum of the references' labels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from cyclecorr.eval.propagation.spec import AttentionSpec


class Candidates(NamedTuple):
    """The references kept by the top-k for a chunk of queries, before the softmax.

    Attributes:
        vals: (Q, g, k) float similarities (-inf where fewer than k references were allowed);
            ``g`` frames for ``topk_scope="per_frame"``, ``g = 1`` for ``"joint"``.
        rows: (Q, g, k) int64 rows of those references in the frame-major label table.
        lse: (Q, g) float ``logsumexp(sim / temperature)`` over every allowed reference of each
            group (the full-softmax normaliser), or ``None`` when ``spec.renormalize``.
    """

    vals: torch.Tensor
    rows: torch.Tensor
    lse: torch.Tensor | None = None


def select(
    sim: torch.Tensor,
    rows: torch.Tensor,
    spec: AttentionSpec,
    counts: torch.Tensor | None = None,
) -> Candidates:
    """Top-k of one group of context frames (inside each frame, or over the group when joint).

    Args:
        sim: (Q, g, P_g) float similarities, -inf where a reference is excluded.
        rows: (g, P_g) int64 row of every reference in the frame-major label table.
        spec: Attention rule.
        counts: (g,) int64 how many identical context frames each frame stands for (the
            references' padding copies of frame 0); ``None`` = one each.

    Returns:
        The kept references, as if every frame appeared ``counts`` times; a joint top-k over
        several groups is the top-k of their candidates.
    """
    if counts is not None and bool((counts != 1).any()):
        return _select_repeated(sim, rows, spec, counts)
    q, g, p = sim.shape
    if spec.topk_scope == "joint":
        sim, rows, g, p = sim.reshape(q, 1, g * p), rows.reshape(1, g * p), 1, g * p
        # sim: (Q, g, P_g) -> (Q, 1, g*P_g); rows: (g, P_g) -> (1, g*P_g)
    vals, idx = sim.topk(min(spec.topk, p), dim=2)  # (Q, g, k)
    frame = torch.arange(g, device=idx.device)[None, :, None]  # (1, g, 1)
    lse = None if spec.renormalize else torch.logsumexp(sim / spec.temperature, dim=2)  # (Q, g)
    return Candidates(vals, rows[frame, idx], lse)  # (Q, g, k) each


def _select_repeated(
    sim: torch.Tensor, rows: torch.Tensor, spec: AttentionSpec, counts: torch.Tensor
) -> Candidates:
    """``select`` when frame ``f`` stands for ``counts[f]`` identical frames.

    Each frame's own top-k is computed once and repeated ``counts[f]`` times; a joint top-k of
    the repeated lists equals the top-k over the repeated frames (an entry of the joint top-k is
    in its frame's top-k), and the full-softmax normaliser adds ``log counts[f]`` per frame.
    """
    q, g, p = sim.shape
    vals, idx = sim.topk(min(spec.topk, p), dim=2)  # (Q, g, k), per frame
    picked = rows[torch.arange(g, device=idx.device)[None, :, None], idx]  # (Q, g, k)
    vals, picked = vals.repeat_interleave(counts, dim=1), picked.repeat_interleave(counts, dim=1)
    lse = None  # (Q, sum(counts)) per repeated frame
    if not spec.renormalize:
        lse = torch.logsumexp(sim / spec.temperature, dim=2).repeat_interleave(counts, dim=1)
    if spec.topk_scope == "per_frame":
        return Candidates(vals, picked, lse)  # (Q, sum(counts), k)
    flat_vals, flat_rows = vals.reshape(q, 1, -1), picked.reshape(q, 1, -1)  # (Q, 1, M)
    top, pos = flat_vals.topk(min(spec.topk, flat_vals.shape[2]), dim=2)  # (Q, 1, k)
    lse = None if lse is None else torch.logsumexp(lse, dim=1, keepdim=True)  # (Q, 1)
    return Candidates(top, flat_rows.gather(2, pos), lse)


def combine(
    cands: list[Candidates], labels: torch.Tensor, spec: AttentionSpec, num_frames: int
) -> torch.Tensor:
    """Softmax over the candidates of every group and the weighted label sum.

    With ``spec.renormalize`` the softmax runs over the kept candidates; otherwise each kept
    similarity ``s`` weighs ``exp(s / temperature - lse)`` with the normaliser of its scope (its
    frame for ``softmax="per_frame"``, the whole context for ``"joint"``), so the weights of the
    kept references sum to at most 1.

    Args:
        cands: Candidates of the same Q queries, every context frame in exactly one of them.
        labels: (n*P, L) float label distributions of the references, frame-major.
        spec: Attention rule.
        num_frames: Number of context frames ``n`` (the per-frame softmax averages over them).

    Returns:
        (Q, L) float labels of the queries.
    """
    q = cands[0].vals.shape[0]
    rows = torch.cat([c.rows.reshape(q, -1) for c in cands], dim=1)  # (Q, M)
    if spec.softmax == "per_frame":  # per-frame top-k: every group holds whole frames
        parts = [_frame_weights(c, spec) / num_frames for c in cands]  # (Q, g, k) each
        weight = torch.cat([w.reshape(q, -1) for w in parts], dim=1)  # (Q, M)
    else:
        vals = torch.cat([c.vals.reshape(q, -1) for c in cands], dim=1)  # (Q, M)
        if spec.topk_scope == "joint" and len(cands) > 1:
            vals, pos = vals.topk(min(spec.topk, vals.shape[1]), dim=1)  # (Q, k)
            rows = rows.gather(1, pos)  # (Q, k)
        if spec.renormalize:
            weight = (vals / spec.temperature).softmax(dim=1)  # only the kept entries are scaled
        else:
            lse = torch.logsumexp(torch.cat([c.lse for c in cands], dim=1), dim=1)  # type: ignore[misc]
            weight = _exp_weights(vals, lse[:, None], spec.temperature)  # (Q, M)
    return torch.einsum("qk,qkl->ql", weight, labels[rows])  # (Q, k) x (Q, k, L) -> (Q, L)


def _frame_weights(cand: Candidates, spec: AttentionSpec) -> torch.Tensor:
    """(Q, g, k) weights of a per-frame softmax: over the kept top-k, or the full frame."""
    if spec.renormalize:
        return (cand.vals / spec.temperature).softmax(dim=2)
    assert cand.lse is not None
    return _exp_weights(cand.vals, cand.lse[..., None], spec.temperature)


def _exp_weights(vals: torch.Tensor, lse: torch.Tensor, temperature: float) -> torch.Tensor:
    """``exp(vals / temperature - lse)``, 0 where ``vals`` is -inf (an excluded reference)."""
    weight = torch.exp(vals / temperature - lse)
    return torch.where(torch.isfinite(vals), weight, torch.zeros_like(weight))


def concat_candidates(parts: list[Candidates]) -> Candidates:
    """Stack the candidates of consecutive query chunks along the query axis."""
    lse = None if parts[0].lse is None else torch.cat([p.lse for p in parts], dim=0)  # type: ignore[misc]
    return Candidates(
        torch.cat([p.vals for p in parts], dim=0), torch.cat([p.rows for p in parts], dim=0), lse
    )


def pick_queries(cands: Candidates, index: torch.Tensor) -> Candidates:
    """The candidates of the queries ``index`` (Q',) int64."""
    lse = None if cands.lse is None else cands.lse[index]
    return Candidates(cands.vals[index], cands.rows[index], lse)
