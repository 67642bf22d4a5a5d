"""Radius-restricted label propagation computed on local windows only (METHOD.md section 5).

With a radius ``r`` (Euclidean distance between feature-cell indices, strict as in CRW) a query
cell ``(y, x)`` can only attend to reference cells ``(y', x')`` with ``(y - y')^2 + (x - x')^2 <
r^2``, all inside the (2R+1)x(2R+1) window, ``R = ceil(r) - 1``. Instead of all ``(h w)^2`` pairs,
queries are processed in T x T tiles, each against the (T+2R) x (T+2R) reference region covering
the union of its windows (clipped to the image), so the work stays a dense matmul; cells of the
region outside a query's disk get -inf, exactly as the all-pairs mask does. Frames the radius
does not apply to (CRW's first frame) are attended densely inside the same tile, so a joint top-k
still sees every reference. Equal to the dense masked computation up to float rounding (and the
order of exact ties).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from cyclecorr.eval.propagation.candidates import (
    Candidates,
    combine,
    concat_candidates,
    pick_queries,
    select,
)
from cyclecorr.eval.propagation.spec import AttentionSpec

DEFAULT_TILE = 16  # query tile side: larger tiles copy less per query but compute more


def window_reach(radius: float) -> int:
    """Largest integer offset ``R`` with ``R < radius`` (the strict rule of ``radius_mask``)."""
    return max(0, int(math.ceil(radius)) - 1)


def tile_size(n_local: int, reach: int, max_elements: int) -> int:
    """Largest tile side ``T <= DEFAULT_TILE`` whose similarity block fits in ``max_elements``.

    A tile holds ``T^2 * n_local * (T + 2 reach)^2`` similarities; ``T = 1`` is used even when
    that exceeds the bound (like a one-query chunk of the dense path).
    """
    for side in range(DEFAULT_TILE, 1, -1):
        if side**2 * n_local * (side + 2 * reach) ** 2 <= max_elements:
            return side
    return 1


def _tile_similarities(
    q: torch.Tensor,
    cells: tuple[slice, slice],
    frames: Sequence[torch.Tensor],
    local: list[int],
    radius: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Similarities of one query tile to the clipped region around it in every radius frame.

    Args:
        q: (Q, C) unit-norm features of the tile's queries, row-major inside the tile.
        cells: Row and column slices of the tile in the (h, w) grid.
        frames: The context, each frame (h, w, C) unit-norm, channels last.
        local: Positions of the radius frames in ``frames``.
        radius: Radius in feature cells.

    Returns:
        Similarities (Q, m, Rt), -inf outside each query's disk, and the (m, Rt) int64 flat index
        ``frame * h * w + y * w + x`` of every region cell.
    """
    h, w, c = frames[0].shape
    reach = window_reach(radius)
    rows, cols = cells
    ry = torch.arange(max(0, rows.start - reach), min(h, rows.stop + reach), device=q.device)
    rx = torch.arange(max(0, cols.start - reach), min(w, cols.stop + reach), device=q.device)
    box = (slice(int(ry[0]), int(ry[-1]) + 1), slice(int(rx[0]), int(rx[-1]) + 1))
    region = torch.cat([frames[f][box].reshape(-1, c) for f in local])  # (m*Rt, C), one copy
    sim = (q @ region.T).reshape(q.shape[0], len(local), -1)  # (Q, m*Rt) -> (Q, m, Rt)
    qy = torch.arange(rows.start, rows.stop, device=q.device)[:, None, None, None]  # (Ty,1,1,1)
    qx = torch.arange(cols.start, cols.stop, device=q.device)[None, :, None, None]  # (1,Tx,1,1)
    far = (qy - ry[:, None]).square() + (qx - rx).square() >= radius**2  # (Ty, Tx, Ry, Rx)
    far = far.reshape(q.shape[0], -1)  # (Ty, Tx, Ry, Rx) -> (Q, Rt)
    bias = torch.zeros(far.shape, dtype=sim.dtype, device=sim.device).masked_fill_(far, -math.inf)
    sim.add_(bias[:, None, :])  # (Q, m, Rt): -inf outside each disk (5x cheaper than a mask fill)
    cy, cx = ry.repeat_interleave(len(rx)), rx.repeat(len(ry))  # (Rt,) each, row-major
    frame_index = torch.tensor(local, device=q.device)[:, None]  # (m, 1)
    index = frame_index * (h * w) + (cy * w + cx)[None, :]  # (m, Rt)
    return sim, index


def dense_candidates(
    query: torch.Tensor,
    frames: Sequence[torch.Tensor],
    dense: list[int],
    spec: AttentionSpec,
    max_elements: int,
    counts: torch.Tensor | None = None,
) -> Candidates:
    """Top-k of every query over whole context frames, in chunks of queries.

    Args:
        query: (h, w, C) unit-norm query features.
        frames: The context, each frame (h, w, C) unit-norm.
        dense: Positions of the frames to attend densely.
        spec: Attention rule.
        max_elements: Bound on the similarities held at once.
        counts: (g,) int64 multiplicity of each of those frames (``None``: one each).

    Returns:
        Candidates with (P, g, k) (or (P, 1, k) when joint) values and rows.
    """
    h, w, c = query.shape
    cells = h * w
    refs = torch.stack([frames[f] for f in dense]).reshape(len(dense), cells, c)  # (g, P, C)
    positions = torch.tensor(dense, device=query.device)[:, None]  # (g, 1)
    rows = positions * cells + torch.arange(cells, device=query.device)[None]  # (g, P)
    queries = query.reshape(cells, c)  # (P, C)
    chunk = max(1, max_elements // max(1, len(dense) * cells))
    parts = []
    for start in range(0, cells, chunk):
        sim = torch.einsum("qc,gpc->qgp", queries[start : start + chunk], refs)  # (Q, g, P)
        parts.append(select(sim, rows, spec, counts))
    return concat_candidates(parts)  # (P, g', k) each


def windowed_propagation(
    query: torch.Tensor,
    frames: Sequence[torch.Tensor],
    labels: torch.Tensor,
    spec: AttentionSpec,
    radius_frames: torch.Tensor,
    max_elements: int,
    counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """Propagate with the radius frames attended only inside each query's window.

    The frames without radius are attended densely first (their top-k candidates kept); then
    every query tile attends its windows and merges its candidates with theirs.

    Args:
        query: (h, w, C) unit-norm query features.
        frames: The context, n frames of (h, w, C) unit-norm features.
        labels: (n*h*w, L) float reference labels, frame-major.
        spec: Attention rule; ``spec.radius`` must be set.
        radius_frames: (n,) bool, True for the frames the radius applies to (at least one).
        max_elements: Bound on the similarities held at once (chunks and tile size).
        counts: (n,) int64 multiplicity of each context frame (``None``: one each).

    Returns:
        (h*w, L) float labels of the query cells, row-major.
    """
    assert spec.radius is not None and bool(radius_frames.any())
    h, w, c = query.shape
    if counts is None:
        counts = torch.ones(len(frames), dtype=torch.long, device=query.device)
    local = torch.nonzero(radius_frames).flatten().tolist()  # m radius frames
    dense = torch.nonzero(~radius_frames).flatten().tolist()
    far = None
    if dense:
        far = dense_candidates(query, frames, dense, spec, max_elements, counts[dense])
    cell = torch.arange(h * w, device=query.device).reshape(h, w)  # flat index of each query
    side = tile_size(len(local), window_reach(spec.radius), max_elements)
    total = int(counts.sum())
    out = labels.new_empty(h, w, labels.shape[1])  # (h, w, L)
    for y0 in range(0, h, side):
        for x0 in range(0, w, side):
            rows, cols = slice(y0, min(h, y0 + side)), slice(x0, min(w, x0 + side))
            q = query[rows, cols].reshape(-1, c)  # (Ty, Tx, C) -> (Q, C)
            sim, index = _tile_similarities(q, (rows, cols), frames, local, spec.radius)
            cands = [select(sim, index, spec, counts[local])]
            if far is not None:
                mine = cell[rows, cols].reshape(-1)  # (Ty, Tx) -> (Q,)
                cands.insert(0, pick_queries(far, mine))
            result = combine(cands, labels, spec, total)  # (Q, L)
            out[rows, cols] = result.reshape(rows.stop - y0, cols.stop - x0, -1)  # (Ty, Tx, L)
    return out.reshape(h * w, -1)  # (h, w, L) -> (h*w, L)
