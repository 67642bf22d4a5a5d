"""One tracker step ``T(x_I, x_query) -> (theta, crop)`` (METHOD.md section 3).

1. L2-normalise the raw frame features ``x_I``.
2. Affinity ``A = softmax_i(<x_I(i), x_query(j)> / tau)`` (``cyclecorr.ops.affinity``).
3. Localizer: ``A -> (tx, ty, angle)`` -> ``theta`` at the fixed scale 1/3
   (``cyclecorr.ops.geometry.theta_from_params``).
4. Sampler: bilinear crop of the *raw* frame features at ``theta``, L2-normalised
   (``cyclecorr.models.feature_sampler.crop_features``).

The tracker is deliberately weak so the burden of tracking falls on the encoder. Its weights are
shared by every hop of every cycle, and it has no BatchNorm, so stacking independent hops along
the batch axis (as the losses do) gives exactly the same result as running them one by one.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from cyclecorr.models.feature_sampler import crop_features
from cyclecorr.models.localizer import Localizer
from cyclecorr.ops.affinity import DEFAULT_TAU, affinity, l2_normalize
from cyclecorr.ops.geometry import PATCH_SCALE, theta_from_params


class TrackStep(NamedTuple):
    """Result of one tracker step.

    Attributes:
        theta: ``(B, 2, 3)`` predicted placement, patch grid -> frame normalised coordinates.
        crop: ``(B, C, h, w)`` L2-normalised features cropped from the frame at ``theta``.
        affinity: ``(B, H*W, h*w)`` patch-to-frame affinity (softmax over frame positions).
    """

    theta: Tensor
    crop: Tensor
    affinity: Tensor


class Tracker(nn.Module):
    """Affinity + localizer + sampler, shared across all hops.

    Args:
        channels: feature channels ``C`` (checked against the inputs).
        patch_cells: side ``h`` of the square patch feature grid (10 for an 80 px patch).
        frame_hw: ``(H, W)`` frame feature grid (30x30 for a 240 px crop).
        tau: affinity temperature; logits are divided by it (release: ``512 ** -0.5``).
        kernel_size: localizer convolution kernel; ``None`` (the configs) derives it from
            ``patch_cells`` (4 for 10x10 patches, 3 for 6x6, 2 for 3x3).
        align_corners: sampler convention (``False``: see ``cyclecorr.ops.crop``).
        translation_quirk: the release's 227/210 translation scaling when sampling.
        localizer_bias: biases on the localizer's convolutions (the release: ``False``).
        localizer_init: the localizer convolutions' init, ``"default"`` or ``"kaiming_fan_out"``
            (the release's); see ``cyclecorr.models.localizer.Localizer``.
        localizer_readout_init: start the localizer as a soft-argmax fit
            (``cyclecorr.models.localizer_readout``; the release: ``False``).
    """

    def __init__(
        self,
        channels: int = 512,
        patch_cells: int = 10,
        frame_hw: tuple[int, int] | list[int] = (30, 30),
        tau: float = DEFAULT_TAU,
        kernel_size: int | None = None,
        align_corners: bool = False,
        translation_quirk: bool = False,
        localizer_bias: bool = True,
        localizer_init: str = "default",
        localizer_readout_init: bool = False,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.patch_cells = patch_cells
        self.frame_hw = (int(frame_hw[0]), int(frame_hw[1]))
        self.tau = tau
        self.align_corners = align_corners
        self.translation_quirk = translation_quirk
        self.localizer: nn.Module = Localizer(
            frame_cells=self.frame_hw[0] * self.frame_hw[1],
            patch_cells=patch_cells,
            kernel_size=kernel_size,
            bias=localizer_bias,
            init=localizer_init,
            readout_init=localizer_readout_init,
            frame_hw=self.frame_hw,
        )

    def check_inputs(self, frame_feat: Tensor, query: Tensor) -> None:
        """Raise a clear error when the feature sizes do not match the tracker's configuration."""
        expected_frame = (self.channels, *self.frame_hw)
        expected_query = (self.channels, self.patch_cells, self.patch_cells)
        if tuple(frame_feat.shape[1:]) != expected_frame:
            raise ValueError(
                f"{__name__}: frame features must be (B, {expected_frame[0]}, "
                f"{expected_frame[1]}, {expected_frame[2]}) (channels, frame_hw), got "
                f"{tuple(frame_feat.shape)}; set model.tracker.frame_hw to crop_size / 8 and "
                "channels to the encoder's out_channels."
            )
        if tuple(query.shape[1:]) != expected_query or query.shape[0] != frame_feat.shape[0]:
            raise ValueError(
                f"{__name__}: the query must be (B, {self.channels}, "
                f"{self.patch_cells}, {self.patch_cells}) with the frame's B="
                f"{frame_feat.shape[0]}, got {tuple(query.shape)}; set model.tracker.patch_cells "
                "to patch_size / 8."
            )

    def forward(self, frame_feat: Tensor, query: Tensor) -> TrackStep:
        """Track the query into the frame.

        Args:
            frame_feat: ``(B, C, H, W)`` raw (not normalised) frame features, ``(H, W) ==
                frame_hw``.
            query: ``(B, C, h, w)`` L2-normalised query features, ``h == w == patch_cells``.

        Returns:
            ``TrackStep(theta (B, 2, 3), crop (B, C, h, w), affinity (B, H*W, h*w))``.
        """
        self.check_inputs(frame_feat, query)
        aff = affinity(query, l2_normalize(frame_feat, dim=1), self.tau)  # (B, H*W, h*w)
        params = self.localizer(aff).float()  # (B, 3); float32 geometry under bf16 autocast
        theta = theta_from_params(params, scale=PATCH_SCALE)  # (B, 2, 3)
        crop = crop_features(
            frame_feat,
            theta,
            (self.patch_cells, self.patch_cells),
            align_corners=self.align_corners,
            translation_quirk=self.translation_quirk,
        )
        return TrackStep(theta=theta, crop=crop, affinity=aff)


def track_hops(tracker: nn.Module, frames: Tensor, queries: Tensor) -> TrackStep:
    """Run ``n`` independent hops per sample in one tracker call, stacked along the batch axis.

    Args:
        tracker: a ``Tracker`` (or anything with its ``forward`` contract).
        frames: ``(B, n, C, H, W)`` raw destination-frame features, one per hop.
        queries: ``(B, n, C, h, w)`` L2-normalised queries, one per hop.

    Returns:
        ``TrackStep`` with a hop axis: ``theta (B, n, 2, 3)``, ``crop (B, n, C, h, w)``,
        ``affinity (B, n, H*W, h*w)``; identical to ``n`` separate calls (no BatchNorm inside).
    """
    b, n = frames.shape[:2]
    step = tracker(frames.flatten(0, 1), queries.flatten(0, 1))  # hops (B*n, ...)
    return TrackStep(
        theta=step.theta.unflatten(0, (b, n)),  # (B, n, 2, 3)
        crop=step.crop.unflatten(0, (b, n)),  # (B, n, C, h, w)
        affinity=step.affinity.unflatten(0, (b, n)),  # (B, n, H*W, h*w)
    )
