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

import torch
import torch.nn.functional as F

from cyclecorr.eval.propagation.candidates import combine
from cyclecorr.eval.propagation.dense import dense_candidates, radius_mask
from cyclecorr.eval.propagation.spec import AttentionSpec
from cyclecorr.eval.propagation.windowed import windowed_propagation

__all__ = ["propagate_labels", "propagate_labels_dense", "radius_mask", "attend"]

DEFAULT_MAX_ELEMENTS = 2**25  # similarity entries per chunk: 128 MiB in float32


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
            f"{__name__}: expected refs (n, C, h, w) and ref_labels "
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
    if spec.radius is not None and local and windowed:
        return windowed_propagation(query, bank, labels, spec, dense, local, max_elements, counts)
    frames = dense + local  # every frame over every cell; the radius frames masked, if any
    masked_from = len(dense) if spec.radius is not None and local else None
    mine = counts[frames]
    cands = dense_candidates(query, bank, frames, spec, max_elements, mine, masked_from)
    return combine([cands], labels, spec, int(mine.sum()))


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
