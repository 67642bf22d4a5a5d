"""The streaming context of label propagation as one preallocated ring of prepared frames.

Slots of ``bank (context + 2, h, w, C)`` (unit-norm, channels-last features) and ``labels
(context + 2, h*w, L)``:

- slot 0: the first (annotated) frame and its ground truth, kept for the whole video;
- slot 1: the padding copies of frame 0 (both references pad the video with them), stored once
  and counted: ``copies`` of them are left, one fewer for every frame that joins;
- slots 2 .. context + 1: a ring of the most recent frames, each written once when it joins.

While the ring fills, the padding slot and the filled ring slots are one contiguous run (slots
``1 .. 1 + filled``, the padding counted ``copies`` times); once it is full the padding is used up
(``copies = context - filled = 0``) and the run is slots ``2 .. context + 1``. So the frames the
radius applies to are always a slice of the bank, attended without gathering whole frames, and
nothing is re-normalised, transposed or re-stacked per frame.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

FIRST, PADDING, RING = 0, 1, 2  # slot indices


class ContextView(NamedTuple):
    """The context of the next query, as ``attend`` reads it.

    Attributes:
        bank: (N, h, w, C) unit-norm features (the whole ring; only listed slots are read).
        labels: (N*h*w, L) label table of the bank, frame-major.
        dense: Slots attended over every cell (the first frame, unless the radius covers it).
        local: Slots the radius applies to, a contiguous run in practice.
        counts: (N,) int64 multiplicity of every slot.
    """

    bank: torch.Tensor
    labels: torch.Tensor
    dense: list[int]
    local: list[int]
    counts: torch.Tensor


class ContextBank:
    """First frame + padding copies + a ring of the ``context`` most recent frames.

    Args:
        first: (h, w, C) unit-norm features of the first frame.
        first_labels: (h*w, L) its label table (ground truth).
        context: Number of recent slots.
        pad_with_first: Start with the recent slots holding copies of the first frame.
        use_first: Whether the first frame is a reference.
        radius_on_first: Whether the radius also applies to the first frame.
    """

    def __init__(
        self,
        first: torch.Tensor,
        first_labels: torch.Tensor,
        context: int,
        pad_with_first: bool = True,
        use_first: bool = True,
        radius_on_first: bool = False,
    ) -> None:
        h, w, c = first.shape
        self.bank = first.new_empty(context + RING, h, w, c)
        self.labels = first_labels.new_zeros(context + RING, h * w, first_labels.shape[1])
        self.bank[FIRST], self.labels[FIRST] = first, first_labels
        self.bank[PADDING], self.labels[PADDING] = first, first_labels
        self.context = context
        self.copies = context if pad_with_first else 0
        self.filled = 0
        self.head = 0
        self.use_first, self.radius_on_first = use_first, radius_on_first

    def append(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a frame: (h, w, C) unit-norm features and its (h*w, L) label table."""
        if self.context == 0:
            return
        slot = RING + self.head
        self.bank[slot], self.labels[slot] = features, labels
        self.head = (self.head + 1) % self.context
        self.filled = min(self.filled + 1, self.context)
        self.copies = max(0, self.copies - 1)

    def view(self) -> ContextView:
        """The slots the next query attends, their roles and their counts."""
        recent = ([PADDING] if self.copies else []) + list(range(RING, RING + self.filled))
        counts = torch.ones(self.bank.shape[0], dtype=torch.long, device=self.bank.device)
        counts[PADDING] = self.copies
        first = [FIRST] if self.use_first or not recent else []
        dense = [] if self.radius_on_first else first
        local = (first if self.radius_on_first else []) + recent
        table = self.labels.reshape(-1, self.labels.shape[-1])  # (N*h*w, L)
        return ContextView(self.bank, table, dense, local, counts)

    def occurrences(self, slot: int) -> int:
        """How many context slots the next query sees ``slot`` in (0 when it is not used)."""
        view = self.view()
        return int(view.counts[slot]) if slot in view.dense + view.local else 0
