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

from evalsuite.datasets.base import DatasetSpec
from evalsuite.errors import EvalsuiteError
from evalsuite.neighbours import block_budget, block_rows, knn_scores, nearest  # noqa: F401 - re-exported
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, POSITIVE, ruled
from evalsuite.tasks.base import EvalContext, Split, TaskOutput, concat
from evalsuite.tasks.metrics import extra_scores, score


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

    #: Where its columns stand in report tables (``evalsuite.report.tables``): frozen-feature probes,
    #: then low-shot, fine-tuning and detection.
    REPORT_ORDER: ClassVar[int] = 0

    ks: tuple[int, ...] = ruled((10, 20, 100, 200), AT_LEAST_1)
    temperature: float = ruled(0.07, POSITIVE)
    headline_k: int = ruled(20, AT_LEAST_1)
    chunk_size: int = ruled(1024, AT_LEAST_1)
    block_mb: int = ruled(0, AT_LEAST_0, omit_default=True)
    cap_k: bool = field(default=False, metadata={"omit_default": True})

    #: Neighbour counts that fit a few-image test set, for tests/test_contracts.py; not a protocol.
    processes: ClassVar[str] = "first"  # under --launcher: features from every process, the task on the first
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
