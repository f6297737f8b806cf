"""Weighted k-nearest-neighbour classification on frozen features.

Protocol of Wu et al. 2018 ('Unsupervised Feature Learning via Non-Parametric Instance
Discrimination', Sec. 3.4), as used by DINO (Caron et al. 2021, Sec. 4.1 and App. B): cosine
similarity between L2-normalised features; each of the k nearest training images votes for its
class with weight exp(sim / T), T = 0.07; k in {10, 20, 100, 200}, each reported. Nothing is
tuned, so the memory bank is all labelled non-test data (train, plus the val split: official, or
a slice held out of train as ImageNet's).

All ks come from one search for the largest: the bank is scored in blocks against a running
top-k (``nearest``), so memory beyond the features themselves is bounded by ``block_mb`` whatever
the bank's size (1.28M rows for ImageNet; figures in bench/RESULTS.md). Among equal similarities
the lower bank index is the nearer, so a tie is decided alike for every block size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from evalsuite.datasets.base import DatasetSpec, training_targets
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import TASKS
from evalsuite.tasks.base import EvalContext, Split, TaskOutput, concat
from evalsuite.tasks.metrics import extra_scores, score


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


@TASKS.register_module("knn")
@dataclass(frozen=True)
class KNN:
    """Args:
        ks: neighbour counts, each reported (Wu et al. 2018; DINO App. B uses 10, 20, 100, 200).
        temperature: T of the exp(sim / T) vote weight (Wu et al. 2018, Sec. 3.4: 0.07).
        headline_k: the k whose score is the row's headline value (DINO reports k=20).
        chunk_size: queries per similarity chunk.
        block_mb: working memory of one (query chunk x bank block) step in MiB; the bank is scored
            in blocks with a running top-k, so memory stays flat however large the bank
            (1.28M ImageNet images); 0 = 256 MiB on a CPU, half the free memory on a GPU.
        cap_k: a k larger than the memory bank is an error unless this is true; then that k uses
            the whole bank and the row's metric names and ``extra.k_used`` say the k that applied.
    """

    ks: tuple[int, ...] = (10, 20, 100, 200)
    temperature: float = 0.07
    headline_k: int = 20
    chunk_size: int = 1024
    block_mb: int = field(default=0, metadata={"omit_default": True})
    cap_k: bool = field(default=False, metadata={"omit_default": True})

    #: Neighbour counts that fit a few-image test set, for tests/test_contracts.py; not a protocol.
    SMOKE: ClassVar[dict] = dict(ks=(1, 5), headline_k=5)

    def __post_init__(self) -> None:
        if self.headline_k not in self.ks:
            raise ValueError(f"knn headline_k={self.headline_k} is not one of ks={list(self.ks)}")

    def check(self, spec: DatasetSpec) -> dict[int, int]:
        """Before any feature is extracted: every k fits the memory bank (train plus the official
        val split, as ``spec.sizes`` counts them); {k asked: k used}."""
        return self.used_ks(sum(n for split, n in spec.sizes.items() if split != "test"))

    def used_ks(self, bank_size: int) -> dict[int, int]:
        """{k asked: k used}; a k above ``bank_size`` is refused unless ``cap_k``."""
        too_big = [k for k in self.ks if k > bank_size]
        if too_big and not self.cap_k:
            raise EvalsuiteError(f"knn k={too_big[0]} exceeds the memory bank of {bank_size} images; give knn.ks "
                                 f"of at most {bank_size} (and knn.headline_k among them), or knn.cap_k=true to use "
                                 f"the whole bank for such k and record the k used")
        return {k: min(k, bank_size) for k in self.ks}

    def run(self, ctx: EvalContext) -> TaskOutput:
        used = self.check(ctx.spec)
        bank: Split = ctx.features("train")
        if "val" in ctx.spec.splits:
            bank = concat(bank, ctx.features("val"))
        test = ctx.features("test")
        device = ctx.device
        ks = tuple(sorted(set(used.values())))
        scores = knn_scores(bank.features.to(device), bank.targets.to(device), test.features.to(device),
                            ks, self.temperature, len(ctx.spec.classes), self.chunk_size, self.block_mb)
        metric = ctx.spec.metric
        metrics = {f"{name}@k={k}": value for k, s in scores.items()
                   for name, value in {metric: score(metric, s, test.targets),
                                       **extra_scores(metric, s, test.targets)}.items()}
        headline = f"{metric}@k={used[self.headline_k]}"
        extra = {"bank_size": len(bank), "test_size": len(test)}
        if used != {k: k for k in self.ks}:
            extra["k_used"] = {str(k): u for k, u in used.items()}
        return TaskOutput(metric=headline, value=metrics[headline], metrics=metrics, extra=extra)
