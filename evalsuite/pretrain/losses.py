"""The methods' losses, each a pure function of (N, D) tensors with the paper's definition."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evalsuite.pretrain.dist import gather_with_grad, world


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """D(p, z) = -cos(p, z) averaged over the batch (SimSiam, Chen & He 2021, Eq. 1). p, z: (N, D)."""
    return -F.cosine_similarity(p, z, dim=1).mean()


def byol_regression(q: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """2 - 2 cos(q, z) averaged over the batch (BYOL, Grill et al. 2020, Eq. 2). q, z: (N, D)."""
    return (2 - 2 * F.cosine_similarity(q, z, dim=1)).mean()


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent over the 2N views of the global batch (SimCLR, Chen et al. 2020, Eq. 1 and Alg. 1).

    Args:
        z1, z2: (N, D) projections of the two views of this process's N images.
        temperature: tau (0.1 at batch 4096 on ImageNet, 0.5 at CIFAR scale; Sec. B.9).

    Each of the local 2N anchors has one positive (its other view) and 2(world * N) - 2 negatives:
    every other view of every process, gathered with gradients.
    """
    rank, _ = world()
    n = z1.shape[0]
    local = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D): view 1 then view 2
    z1_all = gather_with_grad(F.normalize(z1, dim=1))  # (W*N, D)
    z2_all = gather_with_grad(F.normalize(z2, dim=1))
    total = z1_all.shape[0]
    candidates = torch.cat([z1_all, z2_all])  # (2WN, D)
    logits = local @ candidates.T / temperature  # (2N, 2WN)
    own = torch.arange(n, device=z1.device) + rank * n
    self_index = torch.cat([own, own + total])  # each anchor's own column
    pos_index = torch.cat([own + total, own])  # its other view's column
    logits = logits.masked_fill(F.one_hot(self_index, 2 * total).bool(), float("-inf"))
    return F.cross_entropy(logits, pos_index)


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE where row i of ``anchor`` must pick row i of the (global) ``positive``.

    NNCLR (Dwibedi et al. 2021, Eq. 2): anchor = nearest neighbours NN(z_i, Q) (N, D),
    positive = predictions of the other view (N, D); the negatives are the other rows of the
    global batch, gathered with gradients.
    """
    rank, _ = world()
    a = F.normalize(anchor, dim=1)
    p_all = gather_with_grad(F.normalize(positive, dim=1))  # (W*N, D)
    logits = a @ p_all.T / temperature  # (N, W*N)
    target = torch.arange(a.shape[0], device=a.device) + rank * a.shape[0]
    return F.cross_entropy(logits, target)


def collapse_std(z: torch.Tensor) -> torch.Tensor:
    """Mean per-dimension std of L2-normalised outputs (SimSiam, Sec. 4.1, Fig. 2): ~1/sqrt(D) healthy, 0 collapsed."""
    return F.normalize(z.detach().float(), dim=1).std(dim=0).mean()
