"""Label-propagation protocols: every step of a reference test loop as a named field.

A protocol fixes what METHOD.md section 5 leaves to the reference code: how frames and labels are
resized, which earlier frames a query attends to, how the top-k references are weighted, what is
fed back, and how the prediction returns to the frame's size. Every field is required: the presets
are defined once, as ``conf/protocol/<name>.yaml`` (loaded by Hydra, or by
``cyclecorr.utils.config.load_protocol``). Both presets equal their reference code's behaviour
(side-by-side tests in ``tests/test_reference_equivalence.py``):

- ``timecycle``: the release's ``test_davis.py`` (``--cropSize 320 --topk_vis 5``): 320x320
  frames, labels nearest-resized to 320 then bilinearly to 40x40; the first frame plus 7 recent
  slots padded with copies of frame 0, and frame 0 itself predicted first from them; per context
  frame a softmax at tau = 512^-0.5 over all positions, the top-5 probabilities kept without
  renormalising, summed over the 8 frames and divided by 8; every label channel min-max normalised
  over the map and fed back; bilinear upsampling to 320x320, argmax, nearest resize to the
  original size.
- ``crw``: CRW's ``test.py`` with its README's DAVIS command (``--topk 10 --videoLen 20 --radius
  12 --temperature 0.05 --cropSize -1``): native resolution; labels bilinearly to the feature grid;
  the first frame (no radius) plus 20 recent slots padded with ground-truth copies of frame 0,
  keys at distance >= 12 cells masked on those; top-10 over the joint context, softmax over the 10
  at 0.05; soft labels fed back; bilinear upsampling to the frame, argmax.

Differences that remain (neither changes a score beyond argmax ties): both references order the
labels by colour (CRW: sorted BGR triples; the release: first seen in the 320 px frame), we order
them by id, which only matters where two labels tie exactly; void (255) is propagated as
background here, while the references would carry its palette colour as one more label (DAVIS val
has no void pixels in the first frames); frames are decoded with PIL rather than OpenCV (the same
libjpeg, identical pixels in our checks up to +-1 grey level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RESIZE_RULES = ("square", "short_side", "native")
SCOPES = ("per_frame", "joint")
LABEL_DOWNSAMPLE = ("bilinear", "area")
LABEL_NORMS = ("none", "minmax")
OUTPUT_UPSAMPLE = ("resized", "original")
NEIGHBORHOODS = ("disk", "square")


@dataclass(frozen=True)
class PropagationProtocol:
    """Parameters of one label-propagation protocol (each step of the reference loops).

    Attributes:
        name: Preset name, for logs and tables.
        resize: ``"square"`` (frames resized to ``size`` x ``size``), ``"short_side"`` (short
            side to ``size``, aspect kept, sides rounded to the nearest pixel) or ``"native"``
            (no resize; ``size`` unused). Frames are resized bilinearly (half-pixel centres).
        size: Target side length in pixels (see ``resize``).
        frame_antialias: Antialias the frame resize (``False`` in both references: OpenCV's
            ``INTER_LINEAR`` samples two pixels per axis whatever the scale).
        label_downsample: How the first frame's one-hot labels reach the feature grid after being
            resized (nearest, PIL's pixel-centre rule) to the resized frame size: ``"bilinear"``
            (OpenCV's ``INTER_LINEAR``, no antialiasing: both references) or ``"area"`` (cell
            average).
        min_label_pixels: Labels covering fewer pixels of the resized first frame are dropped
            (their pixels get an all-zero distribution); the release keeps a colour from 12
            pixels on. 0 keeps every label.
        context: Number of recent frames kept as references (short-term memory).
        use_first: Whether the first (annotated) frame is always a reference (long-term memory).
        pad_with_first: Start with the recent slots filled by copies of the first frame and its
            ground-truth labels (both references pad the video with copies of frame 0).
        predict_first: Propagate the first frame from its own copies before the video starts and
            let that (normalised) prediction take the most recent slot (the release).
        topk: Number of references each query position keeps.
        topk_scope: ``"per_frame"`` (top-k inside each context frame) or ``"joint"`` (top-k over
            the whole context).
        temperature: Softmax temperature applied to cosine similarities in [-1, 1].
        softmax: ``"per_frame"`` (normalise within each context frame, then average the frames)
            or ``"joint"`` (one softmax over the context).
        renormalize: ``True``: the softmax runs over the kept top-k only (CRW). ``False``: it runs
            over every allowed position of its scope and the kept top-k probabilities are used as
            they are, not summing to 1 (the release).
        label_norm: Applied to each prediction before it is fed back and read out: ``"none"``
            or ``"minmax"`` (every label channel mapped to [0, 1] over the map: the release).
        radius: Spatial radius in feature cells (``None`` = unrestricted); see ``neighborhood``.
        neighborhood: ``"disk"``: references at a Euclidean cell distance ``>= radius`` are
            excluded (strict, as CRW's ``D < radius`` and VFS's ``spatial_neighbor``);
            ``"square"``: references farther than ``radius`` cells along either axis are
            excluded (inclusive, as DINO's ``size_mask_neighborhood``).
        radius_on_first: Whether the radius also restricts the first frame (CRW: no).
        output_upsample: ``"resized"``: bilinear upsampling to the resized frame, argmax, then a
            nearest resize (OpenCV's floor rule) to the original size (both references; a no-op
            for ``native``); ``"original"``: bilinear straight to the original size, argmax.
    """

    name: str
    resize: Literal["square", "short_side", "native"]
    size: int
    frame_antialias: bool
    label_downsample: Literal["bilinear", "area"]
    min_label_pixels: int
    context: int
    use_first: bool
    pad_with_first: bool
    predict_first: bool
    topk: int
    topk_scope: Literal["per_frame", "joint"]
    temperature: float
    softmax: Literal["per_frame", "joint"]
    renormalize: bool
    label_norm: Literal["none", "minmax"]
    radius: float | None
    neighborhood: Literal["disk", "square"]
    radius_on_first: bool
    output_upsample: Literal["resized", "original"]

    def __post_init__(self) -> None:
        """Check the field values; raise ValueError naming the field and the accepted values."""
        choices = {
            "resize": RESIZE_RULES,
            "topk_scope": SCOPES,
            "softmax": SCOPES,
            "label_downsample": LABEL_DOWNSAMPLE,
            "label_norm": LABEL_NORMS,
            "output_upsample": OUTPUT_UPSAMPLE,
            "neighborhood": NEIGHBORHOODS,
        }
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise ValueError(
                    f"{__name__}: {field} must be one of {allowed}, got {getattr(self, field)!r}"
                )
        if self.topk_scope == "joint" and self.softmax == "per_frame":
            raise ValueError(
                f"{__name__}: topk_scope='joint' with softmax='per_frame' is ill-defined (a frame "
                "may "
                "keep no reference); use softmax='joint' or topk_scope='per_frame'"
            )
        if self.size < 1 or self.topk < 1 or self.context < 0 or self.temperature <= 0:
            raise ValueError(
                f"{__name__}: expected size >= 1, topk >= 1, context >= 0, temperature > 0; got "
                f"size={self.size}, topk={self.topk}, context={self.context}, "
                f"temperature={self.temperature}"
            )
        if not self.use_first and self.context == 0:
            raise ValueError(f"{__name__}: use_first=False and context=0 leave no reference frame")
        if self.predict_first and not (self.pad_with_first and self.context > 0):
            raise ValueError(
                f"{__name__}: predict_first=True needs pad_with_first=True and context > 0 (the "
                "first frame is predicted from its copies in the recent slots)"
            )

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """Size ``(H', W')`` a ``height`` x ``width`` frame is resized to before encoding."""
        if self.resize == "native":
            return height, width
        if self.resize == "square":
            return self.size, self.size
        scale = self.size / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
