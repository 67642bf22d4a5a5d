"""Streaming label propagation over a video: the reference test loops' context and feedback.

The context of a query frame is the first (annotated) frame plus the ``protocol.context`` most
recent frames (a preallocated ring, ``context_bank``: memory never grows with the video). Both
references pad the video with copies of frame 0 (``pad_with_first``): the recent slots start as
copies of the first frame carrying its ground-truth labels, so early frames still see a full
context (CRW: 20 copies; the
release: 7, which gives frame 0 the weight ``(9 - j) / 8`` at frame ``j <= 7``). With
``predict_first`` (the release) frame 0 is first propagated from those copies, and its normalised
prediction takes the most recent slot, the fixed first slot keeping the ground truth. Each
prediction is normalised by ``protocol.label_norm`` (``"minmax"``: every label channel mapped to
[0, 1] over the map, the release's rule) and the normalised map is both fed back and returned.
"""

from __future__ import annotations

import torch

from cyclecorr.eval.propagation.attention import (
    DEFAULT_MAX_ELEMENTS,
    attend,
    label_table,
    unit_channels_last,
)
from cyclecorr.eval.propagation.context_bank import ContextBank
from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.eval.propagation.spec import spec_from_protocol


def minmax_labels(labels: torch.Tensor) -> torch.Tensor:
    """Map every channel of ``labels`` (L, h, w) to [0, 1] over its map: ``(x - min) / max``.

    A constant channel (where the release would divide by zero) becomes all zeros.
    """
    flat = labels.flatten(1)  # (L, h*w)
    shifted = flat - flat.min(dim=1, keepdim=True).values
    top = shifted.max(dim=1, keepdim=True).values
    out = torch.where(top > 0, shifted / top.clamp_min(torch.finfo(flat.dtype).tiny), 0.0)
    return out.reshape(labels.shape)


class LabelPropagator:
    """Streaming propagation: the first frame + a bounded ring of recent frames.

    Only the first frame's and the last ``protocol.context`` frames' features and labels are
    kept, on ``device``, in the form the attention reads (unit-norm channels-last features, a
    ``(h*w, L)`` label table), each made and written once (``ContextBank``); the padding copies
    of frame 0 are one slot attended once with their count.

    Example:
        >>> prop = LabelPropagator(feats0, labels0, protocol)
        >>> for feats in later_frames:
        ...     labels = prop.step(feats)  # (L, h, w)
    """

    def __init__(
        self,
        first_features: torch.Tensor,
        first_labels: torch.Tensor,
        protocol: PropagationProtocol,
        device: torch.device | str = "cpu",
        max_elements: int = DEFAULT_MAX_ELEMENTS,
    ) -> None:
        """Start from the annotated first frame (and predict it first when the protocol says so).

        Args:
            first_features: (C, h, w) float features of the first frame.
            first_labels: (L, h, w) float label distribution of the first frame (e.g. one-hot).
            protocol: Context, padding, feedback and attention rule.
            device: Where features, labels and attention live (``"cuda"`` to use a GPU).
            max_elements: Similarity entries per chunk (see ``propagate_labels``).
        """
        self.protocol = protocol
        self.spec = spec_from_protocol(protocol)
        self.device = torch.device(device)
        self.max_elements = max_elements
        first = first_features.to(self.device)
        self.size = (int(first.shape[1]), int(first.shape[2]))
        self.context = ContextBank(
            unit_channels_last(first),
            label_table(first_labels.to(self.device).float()),
            protocol.context,
            pad_with_first=protocol.pad_with_first,
            use_first=protocol.use_first,
            radius_on_first=protocol.radius_on_first,
        )
        self.first_prediction: torch.Tensor | None = None
        if protocol.predict_first:
            self.first_prediction = self._propagate(self.context.bank[0].clone())

    @torch.no_grad()
    def step(self, features: torch.Tensor) -> torch.Tensor:
        """Propagate to the next frame and add it to the context.

        Args:
            features: (C, h, w) float features of the next frame.

        Returns:
            (L, h, w) float label distribution of that frame after ``protocol.label_norm``,
            on ``device``.
        """
        return self._propagate(unit_channels_last(features.to(self.device)))

    def _propagate(self, query: torch.Tensor) -> torch.Tensor:
        """``step`` for (h, w, C) unit-norm query features; the query then joins the context."""
        view = self.context.view()
        rows = attend(
            query, view.bank, view.labels, self.spec, view.dense, view.local, view.counts,
            self.max_elements,
        )  # fmt: skip
        out = rows.T.reshape(-1, *self.size)  # (P, L) -> (L, h, w)
        if self.protocol.label_norm == "minmax":
            out = minmax_labels(out)
        self.context.append(query, label_table(out))
        return out
