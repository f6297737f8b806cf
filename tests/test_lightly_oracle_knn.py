"""Pre-training's online kNN monitor equals lightly's ``knn_predict`` (lightly 1.6.0,
lightly/utils/benchmarking/knn.py), the monitor of lightly's cifar10_benchmark.py, at its
k = 200, T = 0.1: every query's prediction, not only the accuracy.

lightly's ``BenchmarkModule`` L2-normalises bank and query features before ``knn_predict``
(lightly/utils/benchmarking/benchmark_module.py); evalsuite's ``knn_scores`` normalises inside.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lightly.utils.benchmarking import knn_predict

from evalsuite.pretrain.hooks import embed, knn_accuracy
from evalsuite.pretrain.trainer import build_model, load_recipe
from evalsuite.tasks.knn import knn_scores

K, T, CLASSES = 200, 0.1, 10


def clustered(n: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features around one centre per class, close enough that the classes overlap (kNN ~70%)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(CLASSES, dim, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    return centres[labels] * 0.015 + torch.randn(n, dim, generator=g) / dim ** 0.5 * 3, labels


def lightly_top1(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    pred = knn_predict(F.normalize(queries, dim=1), F.normalize(bank, dim=1).T, bank_labels, CLASSES, K, T)
    return pred[:, 0]


def test_knn_scores_predict_what_lightly_predicts():
    """A CIFAR-10-sized monitor: 5,000 bank and 1,000 query features of ResNet-18 width."""
    bank, bank_labels = clustered(5000, 512, seed=1)
    queries, query_labels = clustered(1000, 512, seed=2)
    ours = knn_scores(bank, bank_labels, queries, (K,), T, CLASSES)[K].argmax(1)
    theirs = lightly_top1(bank, bank_labels, queries)
    assert torch.equal(ours, theirs)
    accuracy = (ours == query_labels).float().mean().item()
    assert 0.3 < accuracy < 0.9, accuracy  # neither trivial nor saturated: the predictions carry information


@pytest.mark.usefixtures("one_thread")
def test_monitor_accuracy_is_lightlys_on_the_model_features():
    """The hook's path: backbone features of uint8 images in eval mode, then the vote."""
    cfg = load_recipe("simsiam_cifar10_resnet18", {"method.arch": "resnet_tiny"})
    torch.manual_seed(0)
    model = build_model(cfg, CLASSES, torch.device("cpu"))
    g = torch.Generator().manual_seed(3)
    bank_x = torch.randint(0, 256, (400, 3, 16, 16), generator=g, dtype=torch.uint8)
    bank_y = torch.randint(0, CLASSES, (400,), generator=g)
    query_x = torch.randint(0, 256, (100, 3, 16, 16), generator=g, dtype=torch.uint8)
    query_y = torch.randint(0, CLASSES, (100,), generator=g)
    ours = knn_accuracy(model, (bank_x, bank_y), (query_x, query_y), K, T, CLASSES)
    theirs = (lightly_top1(embed(model, bank_x), bank_y, embed(model, query_x)) == query_y).float().mean().item()
    assert ours == theirs
