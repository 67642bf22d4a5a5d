"""CRW's node embedding (models/node_head.py): spatial mean -> MLP head -> L2 norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cyclecorr.models.node_head import NodeHead, make_head


def test_head_depths_match_crw_make_head() -> None:
    linear = make_head(512, 0, 128)
    assert [type(m) for m in linear] == [nn.Linear]
    assert linear[0].in_features == 512 and linear[0].out_features == 128
    deeper = make_head(512, 1, 128)
    assert [type(m) for m in deeper] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (deeper[0].out_features, deeper[2].in_features, deeper[2].out_features) == (
        512,
        512,
        128,
    )
    assert len(make_head(512, -1)) == 0
    assert sorted(linear.state_dict()) == ["0.bias", "0.weight"]  # CRW's selfsim_fc names
    with pytest.raises(ValueError, match=">= -1"):
        make_head(512, -2)


def test_nodes_are_the_normalised_projection_of_the_mean() -> None:
    head = NodeHead(4, depth=0, out_channels=3)
    maps = torch.randn(5, 4, 2, 3, generator=torch.Generator().manual_seed(0))
    nodes = head(maps)
    assert nodes.shape == (5, 3)
    assert torch.allclose(nodes.norm(dim=1), torch.ones(5))
    linear = head.mlp[0]
    expected = linear(maps.mean(dim=(2, 3)))
    assert torch.allclose(nodes, expected / expected.norm(dim=1, keepdim=True), atol=1e-6)
    # a constant map pools to its value: no head -> the normalised channel vector
    flat = torch.ones(1, 4, 3, 3) * torch.tensor([3.0, 0.0, 4.0, 0.0]).view(1, 4, 1, 1)
    no_head = NodeHead(4, depth=-1)
    assert no_head.out_channels == 4
    assert torch.allclose(no_head(flat), torch.tensor([[0.6, 0.0, 0.8, 0.0]]))
    with pytest.raises(ValueError, match=r"\(M, C, h, w\)"):
        head(torch.zeros(5, 4))
