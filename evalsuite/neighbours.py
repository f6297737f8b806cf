"""The weighted k-nearest-neighbour vote, shared by the kNN task (``evalsuite.tasks.knn``) and
pre-training's online kNN monitor (``evalsuite.pretrain.hooks``).

Wu et al. 2018 ('Unsupervised Feature Learning via Non-Parametric Instance Discrimination',
Sec. 3.4): cosine similarity between L2-normalised features; each of the k nearest bank images
votes for its class with weight exp(sim / T). All ks come from one search for the largest, the
bank scored in blocks against a running top-k (``nearest``), so memory beyond the features is set
by ``block_mb`` and not by the bank's size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evalsuite.datasets.base import training_targets


#: Working memory of one (query chunk x bank block) step on a CPU when ``block_mb`` is 0.
CPU_BLOCK_MB = 256
#: Share of the GPU's free memory one step may use when ``block_mb`` is 0.
GPU_FREE_SHARE = 0.5


def block_budget(device: torch.device, block_mb: int) -> int:
    """Bytes one step may hold: ``block_mb`` when given, else ``CPU_BLOCK_MB`` on a CPU and
    ``GPU_FREE_SHARE`` of the free memory on a GPU (read when the search starts)."""
    if block_mb:
        return block_mb << 20
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0] * GPU_FREE_SHARE)
    return CPU_BLOCK_MB << 20


def block_rows(budget: int, chunk: int, dim: int) -> int:
    """Bank rows per block: the block's float32 similarities (chunk x rows) and its normalised
    float32 copy (rows x D) fit ``budget`` bytes (what one step holds besides (chunk, k) lists)."""
    return max(1, budget // (4 * (chunk + dim)))


def _order(sims: torch.Tensor, idx: torch.Tensor, kmax: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``kmax`` of each row's candidates (c, n) by similarity, the lower bank index first
    among equal similarities: a tie is decided the same way whatever the block size."""
    by_index = idx.argsort(dim=1, stable=True)
    sims, idx = sims.gather(1, by_index), idx.gather(1, by_index)
    by_sim = sims.argsort(dim=1, descending=True, stable=True)[:, :kmax]
    return sims.gather(1, by_sim), idx.gather(1, by_sim)


def _block_top(sims: torch.Tensor, offset: int, kmax: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``kmax`` best of one block's similarities (c, b) with their bank indices: ``topk``, and
    where equal similarities straddle its cut (topk picks among them freely) the lowest indices."""
    k = min(kmax, sims.shape[1])
    spare = int(k < sims.shape[1])  # one more than needed shows a tie at the cut without a (c, b) mask
    top, idx = sims.topk(k + spare, dim=1)  # (c, k + spare)
    straddle = (top[:, k] == top[:, k - 1]) if spare else top.new_zeros(len(top), dtype=torch.bool)
    top, idx = top[:, :k], idx[:, :k]
    for r in straddle.nonzero().flatten().tolist():
        cut = top[r, -1]
        above = (sims[r] > cut).nonzero().flatten()
        tied = (sims[r] == cut).nonzero().flatten()[:k - len(above)]  # ascending: the lowest indices
        idx[r] = torch.cat([above, tied])
        top[r] = sims[r, idx[r]]
    return top, idx + offset


def nearest(bank: torch.Tensor, queries: torch.Tensor, kmax: int, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarities and bank indices (M, kmax) of each query's ``kmax`` nearest bank rows.

    The bank (N, D) is scored ``rows`` at a time against a running top-k, so the working memory
    is set by ``rows`` and the query count, not by N (DINOv2's eval/knn.py merges per-rank top-k
    lists the same way).
    """
    q = F.normalize(queries.float(), dim=1)  # (m, D)
    best_sims = q.new_full((len(q), 0), float("-inf"))
    best_idx = torch.zeros((len(q), 0), dtype=torch.long, device=q.device)
    for start in range(0, len(bank), rows):
        sims = q @ F.normalize(bank[start:start + rows].float(), dim=1).T  # (m, b); the block is freed here
        top, idx = _block_top(sims, start, kmax)  # (m, <=kmax)
        del sims
        best_sims, best_idx = _order(torch.cat([best_sims, top], 1), torch.cat([best_idx, idx], 1), kmax)
    return best_sims, best_idx


def knn_scores(bank: torch.Tensor, bank_targets: torch.Tensor, queries: torch.Tensor, ks: tuple[int, ...],
               temperature: float, num_classes: int, chunk_size: int = 1024,
               block_mb: int = 0) -> dict[int, torch.Tensor]:
    """Class scores (M, C) for each k, from one search for the largest k.

    Args:
        bank: (N, D) training features; bank_targets: (N,) labels or (N, C) of 1 / 0 / ``IGNORE``
            (an ignored pair casts no vote, as a negative: ``evalsuite.datasets.base.training_targets``).
        queries: (M, D) features to classify.
        chunk_size: queries per chunk.
        block_mb: working memory of one step in MiB (``block_budget``; 0 = automatic); the bank
            is scored in blocks sized to fit it, so memory beyond the features stays flat in N.
    """
    kmax = min(max(ks), len(bank))
    chunk = min(chunk_size, max(1, len(queries)))
    rows = block_rows(block_budget(bank.device, block_mb), chunk, bank.shape[1])
    multilabel = bank_targets.ndim == 2
    out = {k: [] for k in ks}
    for start in range(0, len(queries), chunk):
        sims, idx = nearest(bank, queries[start:start + chunk], kmax, rows)  # (c, kmax)
        weights = (sims / temperature).exp()  # (c, kmax)
        for k in ks:
            if multilabel:
                votes = training_targets(bank_targets[idx[:, :k]].float()) * weights[:, :k].unsqueeze(-1)  # (c, k, C)
                out[k].append(votes.sum(1))
            else:
                scores = weights.new_zeros((len(idx), num_classes))  # (c, C)
                out[k].append(scores.scatter_add_(1, bank_targets[idx[:, :k]], weights[:, :k]))
    return {k: torch.cat(v) for k, v in out.items()}
