"""Label-propagation protocols: how frames are resized and how a query attends to its context.

A protocol fixes everything METHOD.md section 5 leaves open in the propagation rule
``label(q) = sum_r softmax_r(<phi(q), phi(r)> / temperature) * label(r)`` over the top-k most
similar reference positions ``r`` of a context (the first frame plus the last ``context`` frames).
Two presets are provided:

- ``timecycle`` (the TimeCycle release): 320x320 square frames, first frame + 7 previous, top-5
  per context frame, softmax per context frame at tau = 512^-0.5, no spatial radius.
- ``crw`` (the later CRW/VFS standard): 480 short side with the aspect kept, first frame + 20
  previous, top-10 over the whole context, one joint softmax at tau = 0.07, a radius of 12 feature
  cells on the recent frames only.

Deliberate choice: resized sides are rounded to a multiple of the encoder stride (8), so that a
feature cell covers exactly 8x8 resized pixels and upsampling back to the original size is exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

RESIZE_RULES = ("square", "short_side")
SCOPES = ("per_frame", "joint")


@dataclass(frozen=True)
class PropagationProtocol:
    """Parameters of one label-propagation protocol.

    Attributes:
        name: Preset name, for logs and tables.
        resize: ``"square"`` (frames resized to ``size`` x ``size``) or ``"short_side"`` (short
            side resized to ``size``, aspect kept).
        size: Target side length in pixels (see ``resize``); rounded to a multiple of ``stride``.
        context: Number of most recent previous frames kept as references.
        use_first: Whether the first (annotated) frame is always a reference.
        topk: Number of references each query position keeps.
        topk_scope: ``"per_frame"`` (top-k inside each context frame) or ``"joint"`` (top-k over
            the whole context).
        temperature: Softmax temperature applied to cosine similarities in [-1, 1].
        softmax: ``"per_frame"`` (normalise within each context frame, then average the frames)
            or ``"joint"`` (one softmax over every kept reference).
        radius: Spatial radius in feature cells (Euclidean distance between cell indices); ``None``
            means unrestricted.
        radius_on_first: Whether the radius also restricts the first frame.
        stride: Encoder output stride; resized sides are rounded to a multiple of it.
    """

    name: str = "custom"
    resize: Literal["square", "short_side"] = "square"
    size: int = 320
    context: int = 7
    use_first: bool = True
    topk: int = 5
    topk_scope: Literal["per_frame", "joint"] = "per_frame"
    temperature: float = 512**-0.5
    softmax: Literal["per_frame", "joint"] = "per_frame"
    radius: float | None = None
    radius_on_first: bool = False
    stride: int = 8

    def __post_init__(self) -> None:
        """Check the field values; raise ValueError naming the field and the accepted values."""
        where = "cyclecorr/eval/protocols.py"
        if self.resize not in RESIZE_RULES:
            raise ValueError(f"{where}: resize must be one of {RESIZE_RULES}, got {self.resize!r}")
        for field in ("topk_scope", "softmax"):
            if getattr(self, field) not in SCOPES:
                raise ValueError(
                    f"{where}: {field} must be one of {SCOPES}, got {getattr(self, field)!r}"
                )
        if self.topk_scope == "joint" and self.softmax == "per_frame":
            raise ValueError(
                f"{where}: topk_scope='joint' with softmax='per_frame' is ill-defined (a frame may "
                "keep no reference); use softmax='joint' or topk_scope='per_frame'"
            )
        if self.size < self.stride or self.topk < 1 or self.context < 0 or self.temperature <= 0:
            raise ValueError(
                f"{where}: expected size >= stride, topk >= 1, context >= 0, temperature > 0; got "
                f"size={self.size}, topk={self.topk}, context={self.context}, "
                f"temperature={self.temperature}"
            )
        if not self.use_first and self.context == 0:
            raise ValueError(f"{where}: use_first=False and context=0 leave no reference frame")

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """Size ``(H', W')`` a ``height`` x ``width`` frame is resized to, multiples of stride."""
        if self.resize == "square":
            h, w = float(self.size), float(self.size)
        else:
            scale = self.size / min(height, width)
            h, w = height * scale, width * scale
        return _round_to(h, self.stride), _round_to(w, self.stride)

    def feature_size(self, height: int, width: int) -> tuple[int, int]:
        """Feature-map size ``(h, w)`` for a ``height`` x ``width`` original frame."""
        rh, rw = self.resized_size(height, width)
        return rh // self.stride, rw // self.stride


def _round_to(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


PRESETS: dict[str, PropagationProtocol] = {
    "timecycle": PropagationProtocol(
        name="timecycle",
        resize="square",
        size=320,
        context=7,
        use_first=True,
        topk=5,
        topk_scope="per_frame",
        temperature=512**-0.5,
        softmax="per_frame",
        radius=None,
        radius_on_first=False,
    ),
    "crw": PropagationProtocol(
        name="crw",
        resize="short_side",
        size=480,
        context=20,
        use_first=True,
        topk=10,
        topk_scope="joint",
        temperature=0.07,
        softmax="joint",
        radius=12.0,
        radius_on_first=False,
    ),
}


def get_protocol(name: str, **overrides: Any) -> PropagationProtocol:
    """Return the preset ``name`` with any field replaced by ``overrides``.

    Args:
        name: ``"timecycle"`` or ``"crw"``.
        **overrides: Field values replacing the preset's (``radius=None`` removes the radius).

    Raises:
        ValueError: Unknown preset or unknown field.
    """
    if name not in PRESETS:
        raise ValueError(
            f"cyclecorr/eval/protocols.py: unknown protocol {name!r}; choose one of "
            f"{sorted(PRESETS)} (or build PropagationProtocol(...) directly)"
        )
    fields = {f.name for f in dataclasses.fields(PropagationProtocol)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"cyclecorr/eval/protocols.py: unknown protocol field(s) {unknown}; valid fields are "
            f"{sorted(fields)}"
        )
    return dataclasses.replace(PRESETS[name], **overrides)
