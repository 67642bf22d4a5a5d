"""The TimeCycle objective: weighted similarity, skip-cycle and long-cycle losses.

METHOD.md section 4, with ``k`` past frames and ``R`` the reduction over ``i = 1..k``:

    L = w_sim R_i(L_sim^i) + w_skip R_i(L_skip^i) + w_long R_i(L_long^i),

``R = mean`` (``reduce="mean"``, the release: it averages the long-cycle terms over ``i`` and
its skip and inlier criteria over the ``B*k`` hops) or ``R = sum`` (``reduce="sum"``, the paper's
``sum_i``). Paper: ``w_sim = 1``, ``w_skip = w_long = 0.1``; the release's effective weights are
1.0, 0.1, 0.02, our defaults. The skip cycle's direct hops ``t -> t-i`` feed the similarity loss
and the first one is the long cycle's first backward hop, so each is computed once
(see ``cyclecorr.losses.cycle`` for how the long cycles share hops). With ``long_cycle=False``
the long cycles are still run, without gradients, so their terms and thetas can be monitored, but
they are left out of the total.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from cyclecorr.losses.cycle import long_cycle_loss, long_cycle_thetas
from cyclecorr.losses.similarity import SIM_FORMS, similarity_loss
from cyclecorr.losses.skip import skip_cycle, skip_cycle_loss
from cyclecorr.ops.affinity import l2_normalize

REDUCTIONS = ("mean", "sum")


class LossOutput(NamedTuple):
    """Result of ``TimeCycleLoss``.

    Attributes:
        total: scalar loss to back-propagate.
        terms: scalars ``"sim/i"``, ``"skip/i"``, ``"long/i"`` (i = 1..k, unweighted, batch
            means) and their unweighted reductions over ``i`` (mean or sum, as ``reduce``)
            ``"sim"``, ``"skip"``, ``"long"``, so ``total = sum_n w_n terms[n]``.
        skip_thetas: ``(B, k, 2, 3)`` placements in ``t`` after the skip cycles.
        long_thetas: ``(B, k, 2, 3)`` placements in ``t`` after the long cycles.
        direct_thetas: ``(B, k, 2, 3)`` placements of the direct hops ``t -> t-i`` (in ``t-i``).
    """

    total: Tensor
    terms: dict[str, Tensor]
    skip_thetas: Tensor
    long_thetas: Tensor
    direct_thetas: Tensor


class TimeCycleLoss(nn.Module):
    """Cycle-consistency loss over one clip.

    Args:
        k: past frames per clip (cycles of length 1..k).
        w_sim: weight of every ``L_sim^i``.
        w_skip: weight of every ``L_skip^i``.
        w_long: weight of every ``L_long^i``.
        sim_form: ``"inlier"`` (release) or ``"dot"`` (paper); see ``losses/similarity.py``.
        long_cycle: include the long cycles in the total.
        grid: points per side of the theta-loss grid.
        reduce: ``"mean"`` (release) or ``"sum"`` (paper) of each term over ``i = 1..k``.
        align_corners: the inlier mask's sampling convention; must equal the tracker's (the
            configs interpolate it from ``model.tracker.align_corners``).
        translation_quirk: the inlier mask's 227/210 translation scaling; must equal the
            tracker's (interpolated from ``model.tracker.translation_quirk``).
    """

    def __init__(
        self,
        k: int = 4,
        w_sim: float = 1.0,
        w_skip: float = 0.1,
        w_long: float = 0.02,
        sim_form: str = "inlier",
        long_cycle: bool = True,
        grid: int = 20,
        reduce: str = "mean",
        align_corners: bool = False,
        translation_quirk: bool = False,
    ) -> None:
        super().__init__()
        if sim_form not in SIM_FORMS:
            raise ValueError(
                f"{__name__}: sim_form={sim_form!r}; expected one of "
                f"{SIM_FORMS} (set model.loss.sim_form)."
            )
        if reduce not in REDUCTIONS:
            raise ValueError(
                f"{__name__}: reduce={reduce!r}; expected one of "
                f"{REDUCTIONS} (set model.loss.reduce)."
            )
        if k < 1:
            raise ValueError(f"{__name__}: k must be >= 1, got {k}.")
        self.k, self.sim_form, self.long_cycle = k, sim_form, long_cycle
        self.w_sim, self.w_skip, self.w_long = w_sim, w_skip, w_long
        self.grid, self.reduce = grid, reduce
        self.align_corners, self.translation_quirk = align_corners, translation_quirk

    def check_inputs(self, frame_feats: Tensor, patch_feat: Tensor, theta_gt: Tensor) -> None:
        """Raise a clear error when the batch does not hold ``k + 1`` frames per clip."""
        b = frame_feats.shape[0]
        if frame_feats.ndim != 5 or frame_feats.shape[1] != self.k + 1:
            raise ValueError(
                f"{__name__}: frame_feats must be (B, k+1={self.k + 1}, C, H, "
                f"W) (past frames oldest first, then t), got {tuple(frame_feats.shape)}; set "
                "model.loss.k to data.clip_len."
            )
        if patch_feat.shape[0] != b or theta_gt.shape != (b, 2, 3):
            raise ValueError(
                f"{__name__}: expected patch_feat (B, C, h, w) and theta_gt "
                f"(B, 2, 3) with B={b}, got {tuple(patch_feat.shape)} and "
                f"{tuple(theta_gt.shape)}."
            )

    def forward(
        self, tracker: nn.Module, frame_feats: Tensor, patch_feat: Tensor, theta_gt: Tensor
    ) -> LossOutput:
        """Run all cycles and sum the weighted losses.

        Args:
            tracker: the shared ``Tracker``.
            frame_feats: ``(B, k+1, C, H, W)`` raw features, past frames oldest first, then ``t``.
            patch_feat: ``(B, C, h, w)`` raw features of the query patch cut from ``t``.
            theta_gt: ``(B, 2, 3)`` the patch's placement in ``t``.

        Returns:
            ``LossOutput``.
        """
        self.check_inputs(frame_feats, patch_feat, theta_gt)
        query = l2_normalize(patch_feat, dim=1)
        skip = skip_cycle(tracker, frame_feats, query)
        direct = skip.direct
        frame_hw = (frame_feats.shape[-2], frame_feats.shape[-1])
        sim = similarity_loss(
            self.sim_form,
            query,
            crops=direct.crop,
            aff=direct.affinity,
            thetas=direct.theta,
            frame_hw=frame_hw,
            align_corners=self.align_corners,
            translation_quirk=self.translation_quirk,
        )
        skip_terms = skip_cycle_loss(skip.back_thetas, theta_gt, self.grid)
        with torch.set_grad_enabled(self.long_cycle and torch.is_grad_enabled()):
            long_thetas = long_cycle_thetas(tracker, frame_feats, query, direct.crop[:, 0])
            long_terms = long_cycle_loss(long_thetas, theta_gt, self.grid)
        total = self.w_sim * self.reduced(sim) + self.w_skip * self.reduced(skip_terms)
        if self.long_cycle:
            total = total + self.w_long * self.reduced(long_terms)
        terms = self.named_terms(sim, skip_terms, long_terms)
        return LossOutput(total, terms, skip.back_thetas, long_thetas, direct.theta)

    def reduced(self, values: Tensor) -> Tensor:
        """``(k,)`` per-``i`` losses -> scalar, by ``reduce`` (mean or sum over ``i``)."""
        return values.mean() if self.reduce == "mean" else values.sum()

    def named_terms(self, sim: Tensor, skip: Tensor, long: Tensor) -> dict[str, Tensor]:
        """``{"sim/1": .., "skip/1": .., "long/1": .., ..., "sim": reduced, ...}`` (detached)."""
        terms: dict[str, Tensor] = {}
        for name, values in (("sim", sim), ("skip", skip), ("long", long)):
            values = values.detach()
            for i, value in enumerate(values, start=1):
                terms[f"{name}/{i}"] = value
            terms[name] = self.reduced(values)
        return terms
