"""Label propagation's dense path: every query against every cell of whole context frames.

The one chunk loop of the propagation: query positions are taken in chunks so the ``(Q, n, h w)``
similarity block stays under ``max_elements``, and each chunk keeps only its top-k candidates
(``candidates.select``). It serves the frames no radius restricts (CRW's first frame, every frame
of the release's protocol) and, with the radius applied as a mask to the frames it restricts, the
golden all-pairs reference that the windowed path (``windowed``) is tested against.

The neighbourhood of a query cell ``(y, x)`` is the set of reference cells ``(y', x')`` with
``(y - y')^2 + (x - x')^2 < r^2`` (``"disk"``: strict, CRW's ``MaskedAttention`` and VFS's
``spatial_neighbor``) or ``max(|y - y'|, |x - x'|) <= r`` (``"square"``: inclusive, DINO's
``restrict_neighborhood`` with ``size_mask_neighborhood = r``).
"""

from __future__ import annotations

import functools

import torch

from cyclecorr.eval.propagation.candidates import Candidates, concat_candidates, select
from cyclecorr.eval.propagation.spec import AttentionSpec

MAX_RADIUS_TABLE = 2**27  # cache the all-pairs radius mask up to 128 MiB of bools


def inside(dy: torch.Tensor, dx: torch.Tensor, radius: float, shape: str = "disk") -> torch.Tensor:
    """Whether cell offsets ``(dy, dx)`` (broadcastable tensors) lie in the neighbourhood.

    Args:
        dy: Row offsets in feature cells.
        dx: Column offsets in feature cells.
        radius: ``r`` of the neighbourhood.
        shape: ``"disk"`` (Euclidean distance ``< r``) or ``"square"`` (Chebyshev ``<= r``).

    Returns:
        bool tensor of the broadcast shape.
    """
    if shape == "square":
        return torch.maximum(dy.abs(), dx.abs()) <= radius
    return dy.square() + dx.square() < radius**2


def radius_mask(
    query_index: torch.Tensor, height: int, width: int, radius: float, shape: str = "disk"
) -> torch.Tensor:
    """Which reference cells lie in the neighbourhood of each query cell.

    Args:
        query_index: (Q,) int64 flat indices (row-major ``y * width + x``) of query cells.
        height: Feature-map height ``h``.
        width: Feature-map width ``w``.
        radius: Radius in feature cells (see ``inside``).
        shape: ``"disk"`` or ``"square"``.

    Returns:
        (Q, h*w) bool, True where the reference cell is inside the neighbourhood.
    """
    device = query_index.device
    ys = torch.arange(height, device=device, dtype=torch.float32).repeat_interleave(width)
    xs = torch.arange(width, device=device, dtype=torch.float32).repeat(height)  # (h*w,) each
    qy, qx = ys[query_index], xs[query_index]  # (Q,)
    return inside(qy[:, None] - ys[None, :], qx[:, None] - xs[None, :], radius, shape)  # (Q, h*w)


@functools.lru_cache(maxsize=2)
def _radius_table(
    height: int, width: int, radius: float, shape: str, device: torch.device
) -> torch.Tensor:
    """``radius_mask`` for every cell, (h*w, h*w) bool, cached: it is the same for every frame."""
    return radius_mask(torch.arange(height * width, device=device), height, width, radius, shape)


def far_cells(
    index: torch.Tensor, height: int, width: int, radius: float, shape: str = "disk"
) -> torch.Tensor:
    """(Q, h*w) bool, True where a reference cell lies outside the query's neighbourhood."""
    if (height * width) ** 2 <= MAX_RADIUS_TABLE:
        return ~_radius_table(height, width, radius, shape, index.device)[index]
    return ~radius_mask(index, height, width, radius, shape)


def dense_candidates(
    query: torch.Tensor,
    bank: torch.Tensor,
    frames: list[int],
    spec: AttentionSpec,
    max_elements: int,
    counts: torch.Tensor,
    masked_from: int | None = None,
) -> Candidates:
    """Top-k of every query over whole context frames, in chunks of queries.

    Args:
        query: (h, w, C) unit-norm query features.
        bank: (N, h, w, C) unit-norm frames.
        frames: Bank positions of the frames to attend.
        spec: Attention rule.
        max_elements: Bound on the similarities held at once.
        counts: (g,) int64 multiplicity of each of those frames.
        masked_from: ``frames[masked_from:]`` are restricted to each query's neighbourhood by a
            -inf mask (the golden path); ``None``: no mask.

    Returns:
        Candidates with (P, g, k) (or (P, 1, k) when joint) values and rows.
    """
    h, w, c = query.shape
    cells = h * w
    refs = _frames(bank, frames).reshape(len(frames), cells, c)  # (g, P, C)
    positions = torch.tensor(frames, device=query.device)[:, None]  # (g, 1)
    rows = positions * cells + torch.arange(cells, device=query.device)[None]  # (g, P)
    queries = query.reshape(cells, c)  # (P, C)
    masked, radius = None, spec.radius
    if masked_from is not None and radius is not None:
        masked = torch.arange(len(frames), device=query.device) >= masked_from  # (g,)
    chunk = max(1, max_elements // max(1, len(frames) * cells))
    parts = []
    for start in range(0, cells, chunk):
        index = torch.arange(start, min(start + chunk, cells), device=query.device)
        sim = torch.einsum("qc,gpc->qgp", queries[index], refs)  # (Q, g, P)
        if masked is not None and radius is not None:
            far = far_cells(index, h, w, radius, spec.neighborhood)  # (Q, P)
            sim.masked_fill_(far[:, None, :] & masked[None, :, None], float("-inf"))
        parts.append(select(sim, rows, spec, counts))
    return concat_candidates(parts)  # (P, g', k) each


def _frames(bank: torch.Tensor, positions: list[int]) -> torch.Tensor:
    """``bank[positions]``: a view when the positions are a contiguous increasing run."""
    first, last = positions[0], positions[-1]
    if positions == list(range(first, last + 1)):
        return bank[first : last + 1]
    return bank[positions]
