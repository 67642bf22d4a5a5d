"""The attention rule of label propagation: which references a query keeps and how they weigh.

A plain record of the protocol fields the attention needs (``PropagationProtocol`` documents each
one): top-k size and scope, temperature, softmax scope, whether the softmax is renormalised over
the kept references, and the spatial neighbourhood (radius and shape).
"""

from __future__ import annotations

from typing import NamedTuple

from cyclecorr.eval.propagation.protocols import PropagationProtocol


class AttentionSpec(NamedTuple):
    """The attention rule of a protocol (see ``PropagationProtocol`` for the meaning)."""

    topk: int
    topk_scope: str
    temperature: float
    softmax: str
    radius: float | None
    renormalize: bool = True
    neighborhood: str = "disk"


def spec_from_protocol(protocol: PropagationProtocol) -> AttentionSpec:
    """Extract the attention rule of ``protocol``."""
    return AttentionSpec(
        protocol.topk,
        protocol.topk_scope,
        protocol.temperature,
        protocol.softmax,
        protocol.radius,
        protocol.renormalize,
        protocol.neighborhood,
    )
