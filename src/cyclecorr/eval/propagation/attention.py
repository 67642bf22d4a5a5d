"""Label propagation by nearest neighbours in feature space (METHOD.md section 5).

For a query frame with features ``q`` (C, h, w) and a context of reference frames with features
``r`` (n, C, h, w) and label distributions ``y`` (n, L, h, w), every query position ``i`` gets

    y_q(i) = sum_{(f, j) in topk(i)} softmax(<q(i), r_f(j)> / temperature) * y_f(j),

with features L2-normalised over channels (cosine similarity). ``topk`` is taken inside each
context frame (``topk_scope="per_frame"``, the TimeCycle release) or over the whole context
(``"joint"``, CRW). The softmax is either per context frame, the frames' results then averaged
(``softmax="per_frame"``), or one softmax over the context (``"joint"``); it runs over the kept
references (``renormalize=True``, CRW) or over every allowed reference with the kept top-k
probabilities used unrenormalised (``renormalize=False``, the release). An optional radius
(Euclidean distance between feature-cell indices, strict) removes far references from the chosen
frames before the top-k; those frames are only attended inside each query's window
(``windowed``), the others densely. Label distributions stay soft between frames (min-max
normalised first under the release's rule); only the output is argmaxed. Query positions are
processed in chunks (tiles) so the similarity block stays bounded.

Internally (``attend``) the context is a bank of unit-norm, channels-last ``(N, h, w, C)`` frames
with a ``(N*h*w, L)`` label table, made once per frame (the streaming propagator keeps a ring of
them, ``context_bank``), the radius frames a contiguous range of it, and identical context frames
given once with a count.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from cyclecorr.eval.propagation.candidates import combine, select
from cyclecorr.eval.propagation.spec import AttentionSpec
from cyclecorr.eval.propagation.windowed import dense_candidates, windowed_propagation

DEFAULT_MAX_ELEMENTS = 2**25  # similarity entries per chunk: 128 MiB in float32
MAX_RADIUS_TABLE = 2**27  # cache the all-pairs radius mask up to 128 MiB of bools


def radius_mask(query_index: torch.Tensor, height: int, width: int, radius: float) -> torch.Tensor:
    """Which reference cells lie within ``radius`` of each query cell.

    Args:
        query_index: (Q,) int64 flat indices (row-major ``y * width + x``) of query cells.
        height: Feature-map height ``h``.
        width: Feature-map width ``w``.
        radius: Radius in feature cells: cells at a Euclidean distance ``< radius`` are inside
            (strict, as CRW's ``MaskedAttention``).

    Returns:
        (Q, h*w) bool, True where the reference cell is within the radius.
    """
    device = query_index.device
    ys = torch.arange(height, device=device, dtype=torch.float32).repeat_interleave(width)
    xs = torch.arange(width, device=device, dtype=torch.float32).repeat(height)  # (h*w,) each
    qy, qx = ys[query_index], xs[query_index]  # (Q,)
    dist2 = (qy[:, None] - ys[None, :]).square_() + (qx[:, None] - xs[None, :]).square_()
    return dist2 < radius**2  # (Q, h*w)


@functools.lru_cache(maxsize=2)
def _radius_table(height: int, width: int, radius: float, device: torch.device) -> torch.Tensor:
    """``radius_mask`` for every cell, (h*w, h*w) bool, cached: it is the same for every frame."""
    return radius_mask(torch.arange(height * width, device=device), height, width, radius)


def _far_cells(index: torch.Tensor, height: int, width: int, radius: float) -> torch.Tensor:
    """(Q, h*w) bool, True where a reference cell is farther than ``radius`` from the query."""
    if (height * width) ** 2 <= MAX_RADIUS_TABLE:
        return ~_radius_table(height, width, radius, index.device)[index]
    return ~radius_mask(index, height, width, radius)


def unit_channels_last(features: torch.Tensor) -> torch.Tensor:
    """(C, h, w) features -> (h, w, C) contiguous, L2-normalised over C."""
    return F.normalize(features, dim=0).permute(1, 2, 0).contiguous()


def label_table(labels: torch.Tensor) -> torch.Tensor:
    """(L, h, w) label maps -> (h*w, L) rows, row-major cells."""
    return labels.flatten(1).T.contiguous()


def _check_inputs(query: torch.Tensor, refs: torch.Tensor, ref_labels: torch.Tensor) -> None:
    c, h, w = query.shape
    n, _, rh, rw = refs.shape
    if (rh, rw) != (h, w) or ref_labels.shape[0] != n or ref_labels.shape[2:] != (h, w):
        raise ValueError(
            "cyclecorr/eval/propagation/attention.py: expected refs (n, C, h, w) and ref_labels "
            f"(n, L, h, w) matching the query (C, h, w) = {tuple(query.shape)}; got refs "
            f"{tuple(refs.shape)}, ref_labels {tuple(ref_labels.shape)}. Resize every frame with "
            "the same protocol."
        )


def _radius_frames(
    spec: AttentionSpec, n: int, radius_frames: torch.Tensor | None, device: torch.device
) -> torch.Tensor:
    """(n,) bool frames the radius restricts (all False without a radius)."""
    if spec.radius is None:
        return torch.zeros(n, dtype=torch.bool, device=device)
    if radius_frames is None:
        return torch.ones(n, dtype=torch.bool, device=device)
    return radius_frames.to(device=device, dtype=torch.bool)


def propagate_labels(
    query: torch.Tensor,
    refs: torch.Tensor,
    ref_labels: torch.Tensor,
    spec: AttentionSpec,
    radius_frames: torch.Tensor | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    windowed: bool = True,
    counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """Propagate the references' labels to one query frame.

    Frames restricted by a radius are attended only inside each query's (2R+1)^2 window
    (``windowed.windowed_propagation``); the result equals ``propagate_labels_dense`` up to
    float rounding, at a cost that no longer grows with ``(h w)^2`` for those frames.

    Args:
        query: (C, h, w) float query features (any scale; L2-normalised here over C).
        refs: (n, C, h, w) float reference features (L2-normalised here over C).
        ref_labels: (n, L, h, w) float label distributions of the references.
        spec: Attention rule (top-k, scope, temperature, softmax, radius).
        radius_frames: (n,) bool, which references the radius applies to; ``None`` = all.
            Ignored when ``spec.radius`` is None.
        max_elements: Bound on the number of similarity entries computed at once; the query
            positions are split into chunks (or tiles) to respect it.
        windowed: Attend radius frames through their local windows (False: all pairs, the
            radius as a mask; the golden reference, O(n (h w)^2)).
        counts: (n,) int64 how many identical context frames each reference stands for (the
            padding copies of frame 0, computed once); ``None``: one each.

    Returns:
        (L, h, w) float labels of the query, on ``query``'s device. With per-frame or joint
        softmax each position's labels are a convex combination of reference labels.
    """
    _check_inputs(query, refs, ref_labels)
    n, (h, w) = refs.shape[0], query.shape[1:]
    which = _radius_frames(spec, n, radius_frames, query.device)
    order = torch.cat([torch.nonzero(~which).flatten(), torch.nonzero(which).flatten()])
    bank = torch.stack([unit_channels_last(refs[i]) for i in order.tolist()])  # (n, h, w, C)
    labels = torch.cat([label_table(ref_labels[i].to(query.dtype)) for i in order.tolist()])
    num_dense = int((~which).sum())
    dense, local = list(range(num_dense)), list(range(num_dense, n))
    if counts is None:
        counts = torch.ones(n, dtype=torch.long)
    counts = counts.to(query.device)[order]
    out = attend(
        unit_channels_last(query), bank, labels, spec, dense, local, counts, max_elements,
        windowed,
    )  # fmt: skip
    return out.T.reshape(-1, h, w)  # (P, L) -> (L, h, w)


def attend(
    query: torch.Tensor,
    bank: torch.Tensor,
    labels: torch.Tensor,
    spec: AttentionSpec,
    dense: list[int],
    local: list[int],
    counts: torch.Tensor,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    windowed: bool = True,
) -> torch.Tensor:
    """``propagate_labels`` on prepared inputs: a bank of frames, which are dense, which local.

    Args:
        query: (h, w, C) unit-norm query features (``unit_channels_last``).
        bank: (N, h, w, C) unit-norm reference frames (only those in ``dense``/``local`` used).
        labels: (N*h*w, L) float labels of the bank, frame-major (``label_table`` per frame).
        spec: Attention rule.
        dense: Bank positions attended over every cell (no radius).
        local: Bank positions the radius applies to (ignored without a radius: attended densely).
        counts: (N,) int64 multiplicity of every bank frame.
        max_elements: Bound on the similarities held at once.
        windowed: Use the windowed path for radius frames (False: the dense masked path).

    Returns:
        (h*w, L) float labels of the query cells, row-major.
    """
    counts = counts.to(device=query.device, dtype=torch.long)
    if spec.radius is None or not local:  # every frame attended over every cell
        frames = dense + local
        cands = dense_candidates(query, bank, frames, spec, max_elements, counts[frames])
        return combine([cands], labels, spec, int(counts[frames].sum()))
    if not windowed:
        return _dense_attention(query, bank, labels, spec, dense, local, max_elements, counts)
    return windowed_propagation(query, bank, labels, spec, dense, local, max_elements, counts)


def propagate_labels_dense(
    query: torch.Tensor,
    refs: torch.Tensor,
    ref_labels: torch.Tensor,
    spec: AttentionSpec,
    radius_frames: torch.Tensor | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """``propagate_labels`` computed over all query/reference pairs, the radius as a mask.

    The golden reference for the windowed path: O(n (h w)^2) similarities whatever the radius.
    Arguments and result as in ``propagate_labels``.
    """
    return propagate_labels(
        query, refs, ref_labels, spec, radius_frames, max_elements, False, counts
    )


def _dense_attention(
    query: torch.Tensor,
    bank: torch.Tensor,
    labels: torch.Tensor,
    spec: AttentionSpec,
    dense: list[int],
    local: list[int],
    max_elements: int,
    counts: torch.Tensor,
) -> torch.Tensor:
    """All-pairs attention in chunks of query rows, ``local`` frames masked by the radius (the
    golden path the windowed one is tested against).

    Returns:
        (h*w, L) float labels of the query cells.
    """
    h, w, c = query.shape
    frames, cells = dense + local, h * w
    refs = bank[frames].reshape(len(frames), cells, c)  # (n, P, C)
    queries = query.reshape(cells, c)  # (P, C)
    positions = torch.tensor(frames, device=query.device)[:, None]  # (n, 1)
    rows = positions * cells + torch.arange(cells, device=query.device)[None]  # (n, P)
    which = torch.tensor([False] * len(dense) + [True] * len(local), device=query.device)
    mine = counts[frames]
    chunk = max(1, max_elements // max(1, len(frames) * cells))
    out = []
    for start in range(0, cells, chunk):
        index = torch.arange(start, min(start + chunk, cells), device=query.device)
        sim = torch.einsum("qc,npc->qnp", queries[index], refs)  # (Q, n, P)
        if local and spec.radius is not None:
            far = _far_cells(index, h, w, spec.radius)  # (Q, P)
            sim.masked_fill_(far[:, None, :] & which[None, :, None], float("-inf"))  # (Q, n, P)
        out.append(combine([select(sim, rows, spec, mine)], labels, spec, int(mine.sum())))
    return torch.cat(out, dim=0)  # (P, L)
