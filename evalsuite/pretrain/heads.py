"""Projection and prediction MLPs, one small builder for every method's heads."""

from __future__ import annotations

from torch import nn


def mlp(in_dim: int, dims: list[int], last_bn: str = "none") -> nn.Sequential:
    """Linear -> BN -> ReLU for every hidden layer, then a last Linear.

    Args:
        in_dim: input features.
        dims: output size of each Linear, e.g. [2048, 2048, 256].
        last_bn: 'none' (BYOL's heads, Grill et al. 2020, Sec. 3.3), 'affine' (NNCLR, SimCLR
            implementations) or 'no_affine' (SimSiam's projector output, Chen & He 2021, Sec. 4.2).
    """
    layers: list[nn.Module] = []
    for i, out_dim in enumerate(dims):
        last = i == len(dims) - 1
        # A bias before BN is redundant; the last layer keeps one only when no BN follows.
        layers.append(nn.Linear(in_dim, out_dim, bias=last and last_bn == "none"))
        if not last:
            layers += [nn.BatchNorm1d(out_dim), nn.ReLU(inplace=True)]
        elif last_bn != "none":
            layers.append(nn.BatchNorm1d(out_dim, affine=last_bn == "affine"))
        in_dim = out_dim
    return nn.Sequential(*layers)
