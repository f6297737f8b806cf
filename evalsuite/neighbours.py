"""The weighted k-nearest-neighbour vote, shared by the kNN task (``evalsuite.tasks.knn``) and
pre-training's online kNN monitor (``evalsuite.pretrain.hooks``).

Wu et al. 2018 ('Unsupervised Feature Learning via Non-Parametric Instance Discrimination',
Sec. 3.4): cosine similarity between L2-normalised features; each of the k nearest bank images
votes for its class with weight exp(sim / T).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evalsuite.datasets.base import training_targets


def knn_scores(bank: torch.Tensor, bank_targets: torch.Tensor, queries: torch.Tensor, ks: tuple[int, ...],
               temperature: float, num_classes: int, chunk_size: int = 1024) -> dict[int, torch.Tensor]:
    """Class scores (M, C) for each k.

    Args:
        bank: (N, D) training features; bank_targets: (N,) labels or (N, C) of 1 / 0 / ``IGNORE``
            (an ignored pair casts no vote, as a negative: ``evalsuite.datasets.base.training_targets``).
        queries: (M, D) features to classify.
        chunk_size: queries per chunk, so memory stays O(chunk_size x N) for large banks.
    """
    bank = F.normalize(bank.float(), dim=1)
    onehot = (training_targets(bank_targets.float()) if bank_targets.ndim == 2
              else F.one_hot(bank_targets, num_classes).float())  # (N, C)
    kmax = min(max(ks), len(bank))
    out = {k: [] for k in ks}
    for start in range(0, len(queries), chunk_size):
        q = F.normalize(queries[start:start + chunk_size].float(), dim=1)  # (c, D)
        sims, idx = (q @ bank.T).topk(kmax, dim=1)  # (c, kmax)
        weights = (sims / temperature).exp()  # (c, kmax)
        votes = onehot[idx] * weights.unsqueeze(-1)  # (c, kmax, C)
        for k in ks:
            out[k].append(votes[:, :k].sum(1))  # (c, C)
    return {k: torch.cat(v) for k, v in out.items()}
