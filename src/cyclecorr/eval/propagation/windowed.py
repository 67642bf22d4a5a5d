"""Radius-restricted label propagation computed on local windows only (METHOD.md section 5).

With a radius ``r`` a query cell ``(y, x)`` can only attend to reference cells inside its
neighbourhood (``dense.inside``: the strict disk of CRW and VFS, or DINO's inclusive square),
all inside the (2R+1)x(2R+1) window, ``R = ceil(r) - 1`` for the disk and ``floor(r)`` for the
square. Instead of all ``(h w)^2`` pairs, queries are processed in T x T tiles, each against the
(T+2R) x (T+2R) reference region covering the union of its windows (clipped to the image), so the
work stays a dense matmul. The radius frames are first cut into overlapping column strips (one
contiguous copy per column of tiles), so a tile's region is a slice of rows of its strip, read
without a copy; cells of the region outside a query's neighbourhood get -inf, exactly as the
all-pairs mask does. Frames the radius does not apply to (CRW's first frame) are attended
densely (``dense``) and their candidates merged inside each tile, so a joint top-k still sees
every reference. Equal to the dense masked computation up to float rounding (and the order of
exact ties).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import NamedTuple

import torch

from cyclecorr.eval.propagation.candidates import combine, pick_queries, select
from cyclecorr.eval.propagation.dense import _frames, dense_candidates, inside
from cyclecorr.eval.propagation.spec import AttentionSpec

DEFAULT_TILE = 8  # query tile side: larger tiles copy less (strips) but compute more per query


def window_reach(radius: float, shape: str = "disk") -> int:
    """Largest integer offset ``R`` inside the neighbourhood (``dense.inside``): ``R < radius``
    for the strict disk, ``R <= radius`` for the inclusive square."""
    if shape == "square":
        return max(0, int(math.floor(radius)))
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


def column_strips(bank: torch.Tensor, local: list[int], side: int, reach: int) -> Iterator[Strip]:
    """The radius frames cut into overlapping column strips, one per column of query tiles.

    Strip ``j`` holds columns ``[x0 - reach, x0 + side + reach)`` (clipped) of every radius frame,
    contiguous, so the reference region of any query tile in that column is a slice of rows of it
    (a view): the frames are copied once per query frame, not once per tile, and only one
    strip is held at a time (a generator), so the memory does not grow with the copies.

    Args:
        bank: (N, h, w, C) unit-norm frames, channels last.
        local: Bank positions of the radius frames.
        side: Query tile side ``T``.
        reach: Window reach ``R``.

    Yields:
        One ``Strip`` per tile column, left to right.
    """
    frames = _frames(bank, local)  # (m, h, w, C)
    w = bank.shape[2]
    for x0 in range(0, w, side):
        lo, hi = max(0, x0 - reach), min(w, x0 + side + reach)
        yield Strip(x0, min(w, x0 + side), frames[:, :, lo:hi].contiguous())


class Strip(NamedTuple):
    """Columns of the radius frames around one column of query tiles.

    Attributes:
        x0: First query column of the tiles (inclusive).
        x1: Last query column (exclusive).
        refs: (m, h, Wt, C) contiguous unit-norm features of the strip's columns.
    """

    x0: int
    x1: int
    refs: torch.Tensor


def _tile_similarities(
    q: torch.Tensor,
    rows: slice,
    strip: Strip,
    hw: tuple[int, int],
    local: list[int],
    radius: float,
    shape: str = "disk",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Similarities of one query tile to the clipped region around it in every radius frame.

    Args:
        q: (Q, C) unit-norm features of the tile's queries, row-major inside the tile.
        rows: Row slice of the tile in the (h, w) grid.
        strip: The radius frames' columns around the tile (``column_strips``).
        hw: Grid size ``(h, w)``.
        local: Bank positions of the radius frames.
        radius: Radius in feature cells.
        shape: Neighbourhood shape (``dense.inside``).

    Returns:
        Similarities (Q, m, Rt), -inf outside each query's disk, and the (m, Rt) int64 flat index
        ``frame * h * w + y * w + x`` of every region cell.
    """
    h, w = hw
    region = TileRegion.of(rows.start, rows.stop, strip.x0, strip.x1, h, w, radius, shape, q.device)
    m, c = strip.refs.shape[0], strip.refs.shape[-1]
    refs = strip.refs[:, region.box[0]].reshape(m, -1, c)  # (m, Rt, C), a view: no copy
    sim = torch.matmul(q, refs.transpose(1, 2))  # (m, Q, Rt)
    sim.add_(region.bias.to(sim.dtype)[None])  # -inf outside each disk
    frame_index = torch.tensor(local, device=q.device)[:, None]  # (m, 1)
    index = frame_index * (h * w) + region.cells[None, :]  # (m, Rt)
    return sim.transpose(0, 1), index  # (Q, m, Rt)


class TileRegion(NamedTuple):
    """The reference region of one query tile: the same for every frame, so it is cached.

    Attributes:
        box: Row and column slices of the region (the tile grown by the reach, clipped).
        bias: (Q, Rt) float32, 0 inside each query's disk and -inf outside (added to the
            similarities: five times cheaper than a broadcast mask fill).
        cells: (Rt,) int64 flat ``y * w + x`` of every region cell, row-major.
    """

    box: tuple[slice, slice]
    bias: torch.Tensor
    cells: torch.Tensor

    @staticmethod
    @functools.lru_cache(maxsize=64)  # one video size: ~28 tiles of 1.5 MiB at 480p
    def of(
        y0: int,
        y1: int,
        x0: int,
        x1: int,
        h: int,
        w: int,
        radius: float,
        shape: str,
        device: torch.device,
    ) -> TileRegion:
        """The region of the tile ``[y0, y1) x [x0, x1)`` of an ``h x w`` grid."""
        reach = window_reach(radius, shape)
        ry = torch.arange(max(0, y0 - reach), min(h, y1 + reach), device=device)
        rx = torch.arange(max(0, x0 - reach), min(w, x1 + reach), device=device)
        qy = torch.arange(y0, y1, device=device)[:, None, None, None]  # (Ty, 1, 1, 1)
        qx = torch.arange(x0, x1, device=device)[None, :, None, None]  # (1, Tx, 1, 1)
        far = ~inside(qy - ry[:, None], qx - rx, radius, shape)  # (Ty, Tx, Ry, Rx)
        far = far.reshape((y1 - y0) * (x1 - x0), -1)  # (Q, Rt)
        bias = torch.zeros(far.shape, device=device).masked_fill_(far, -math.inf)
        cells = (ry[:, None] * w + rx[None, :]).reshape(-1)  # (Rt,)
        box = (slice(int(ry[0]), int(ry[-1]) + 1), slice(int(rx[0]), int(rx[-1]) + 1))
        return TileRegion(box, bias, cells)


def windowed_propagation(
    query: torch.Tensor,
    bank: torch.Tensor,
    labels: torch.Tensor,
    spec: AttentionSpec,
    dense: list[int],
    local: list[int],
    max_elements: int,
    counts: torch.Tensor,
) -> torch.Tensor:
    """Propagate with the radius frames attended only inside each query's window.

    The frames without radius are attended densely first (their top-k candidates kept); then
    every query tile attends its windows and merges its candidates with theirs.

    Args:
        query: (h, w, C) unit-norm query features.
        bank: (N, h, w, C) unit-norm frames.
        labels: (N*h*w, L) float labels of the bank, frame-major.
        spec: Attention rule; ``spec.radius`` must be set.
        dense: Bank positions attended densely (CRW's first frame).
        local: Bank positions the radius applies to (at least one).
        max_elements: Bound on the similarities held at once (chunks and tile size).
        counts: (N,) int64 multiplicity of every bank frame.

    Returns:
        (h*w, L) float labels of the query cells, row-major.
    """
    assert spec.radius is not None and local
    h, w, c = query.shape
    far = None
    if dense:
        far = dense_candidates(query, bank, dense, spec, max_elements, counts[dense])
    local_counts = counts[local]
    cell = torch.arange(h * w, device=query.device).reshape(h, w)  # flat index of each query
    reach = window_reach(spec.radius, spec.neighborhood)
    side = tile_size(len(local), reach, max_elements)
    total = int(counts[dense + local].sum())
    out = labels.new_empty(h, w, labels.shape[1])  # (h, w, L)
    for strip in column_strips(bank, local, side, reach):
        cols = slice(strip.x0, strip.x1)
        for y0 in range(0, h, side):
            rows = slice(y0, min(h, y0 + side))
            q = query[rows, cols].reshape(-1, c)  # (Ty, Tx, C) -> (Q, C)
            sim, index = _tile_similarities(
                q, rows, strip, (h, w), local, spec.radius, spec.neighborhood
            )
            cands = [select(sim, index, spec, local_counts)]
            if far is not None:
                mine = cell[rows, cols].reshape(-1)  # (Ty, Tx) -> (Q,)
                cands.insert(0, pick_queries(far, mine))
            result = combine(cands, labels, spec, total)  # (Q, L)
            out[rows, cols] = result.reshape(rows.stop - y0, cols.stop - cols.start, -1)
    return out.reshape(h * w, -1)  # (h, w, L) -> (h*w, L)
