"""Node embeddings of the contrastive random walk: pool a patch's feature map, project, normalise.

CRW (ajabri/videowalk ``model.py``, ``pixels_to_nodes`` and ``make_head``): each patch's encoder
feature map ``(C, h, w)`` is averaged over its ``h x w`` positions, passed through an MLP head and
L2-normalised::

    node = normalize( head( mean_{h, w} maps ) )
    head = Linear(C, C) -> ReLU -> ... (depth times) -> Linear(C, out_channels)

``depth = 0`` (CRW's training default) is one linear layer, 512 -> 128 for the ResNet-18
encoder; ``depth = -1`` is no head (the pooled features themselves). Linear layers keep
PyTorch's default init, as the reference does.
"""

from __future__ import annotations

from torch import Tensor, nn

from cyclecorr.ops.affinity import l2_normalize


def make_head(in_channels: int, depth: int = 0, out_channels: int = 128) -> nn.Sequential:
    """CRW's MLP head (``make_head``): ``depth`` hidden ``Linear + ReLU`` layers, then a linear.

    Args:
        in_channels: encoder channels C.
        depth: hidden layers; 0 = a single ``Linear(C, out_channels)``; -1 = no layer at all.
        out_channels: embedding size D.

    Returns:
        ``nn.Sequential`` whose layers are named ``0, 1, ...`` (Linear at even indices), as the
        reference's ``selfsim_fc``.
    """
    if depth < -1:
        raise ValueError(
            f"{__name__}: head depth must be >= -1, found {depth} (0 = one "
            "linear layer, -1 = no head); fix model.head.depth."
        )
    if depth == -1:
        return nn.Sequential()
    dims = [in_channels] * (depth + 1) + [out_channels]
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(d_in, d_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # no ReLU after the last linear


class NodeHead(nn.Module):
    """Feature maps of patches -> L2-normalised node embeddings.

    Args:
        in_channels: channels C of the encoder's feature maps.
        depth: hidden layers of the MLP head (CRW ``--head-depth``, 0).
        out_channels: embedding size D (CRW: 128); ignored when ``depth = -1``.

    Attributes:
        mlp: the head (``make_head``).
        out_channels: D (C when there is no head).
    """

    def __init__(self, in_channels: int, depth: int = 0, out_channels: int = 128) -> None:
        super().__init__()
        self.mlp = make_head(in_channels, depth, out_channels)
        self.out_channels = in_channels if depth == -1 else out_channels

    def forward(self, maps: Tensor) -> Tensor:
        """Embed patches.

        Args:
            maps: ``(M, C, h, w)`` raw encoder features of ``M`` patches.

        Returns:
            ``(M, D)`` float, unit L2 norm along D.
        """
        if maps.ndim != 4:
            raise ValueError(
                f"{__name__}: NodeHead expects feature maps (M, C, h, w), "
                f"found {tuple(maps.shape)}."
            )
        pooled = maps.mean(dim=(2, 3))  # (M, C, h, w) -> (M, C)
        return l2_normalize(self.mlp(pooled), dim=1)  # (M, D)
