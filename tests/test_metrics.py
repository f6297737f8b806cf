import numpy as np
import torch

from evalsuite.datasets.base import IGNORE
from evalsuite.tasks.metrics import average_precision_11, map11, mean_per_class, top1


def test_top1_and_mean_per_class():
    scores = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1]])
    labels = torch.tensor([0, 0, 0, 0]).clone()
    labels[3] = 1
    labels[2] = 1  # class 0: 2/2 right; class 1: 1/2 right
    assert top1(scores, labels) == 0.75
    assert mean_per_class(scores, labels) == 0.75
    labels = torch.tensor([0, 0, 0, 1])
    scores = torch.tensor([[0.0, 1], [1, 0], [1, 0], [1, 0]])  # class 0: 2/3, class 1: 0/1
    assert abs(mean_per_class(scores, labels) - (2 / 3 + 0) / 2) < 1e-6
    assert top1(scores, labels) == 0.5


def test_ap11_by_hand():
    # ranking: +, -, +, -  -> recall 0.5 at precision 1, recall 1 at precision 2/3
    scores = torch.tensor([0.9, 0.8, 0.7, 0.1])
    targets = torch.tensor([1, 0, 1, 0])
    expected = (6 * 1.0 + 5 * (2 / 3)) / 11  # thresholds 0..0.5 -> 1.0; 0.6..1.0 -> 2/3
    assert abs(average_precision_11(scores, targets) - expected) < 1e-6


def test_map11_perfect_ranking_is_one_and_skips_empty_classes():
    targets = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 1, 0]]).float()
    assert map11(targets * 2 - 1, targets) == 1.0


def test_ap11_leaves_ignored_pairs_out_by_hand():
    # ranking +, ignored, +, -: without the ignored pair +, +, - is a perfect ranking (AP 1); counted
    # as a negative (the old protocol) it would cost the second positive its precision (2/3).
    scores = torch.tensor([[0.9], [0.8], [0.7], [0.1]])
    targets = torch.tensor([[1.0], [IGNORE], [1.0], [0.0]])
    assert map11(scores, targets) == 1.0
    assert abs(map11(scores, targets.clamp(min=0)) - (6 * 1.0 + 5 * (2 / 3)) / 11) < 1e-6


def test_map11_skips_a_class_whose_only_positives_are_ignored():
    scores = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]])
    targets = torch.tensor([[1.0, IGNORE], [0.0, 0.0], [0.0, IGNORE]])
    assert map11(scores, targets) == 1.0  # class 1 has no scored positive: not averaged in


def _devkit_ap11(scores: np.ndarray, gt: np.ndarray) -> float:
    """The devkit's VOCevalcls on its own labels (1 / -1 / 0 = difficult), written from its
    description (Everingham et al. 2010, Sec. 4.2): tp where gt > 0, fp where gt < 0, so difficult
    pairs move neither; precision interpolated as the max at recall >= t, t = 0, 0.1, ..., 1."""
    order = np.argsort(-scores, kind="stable")
    tp, fp = np.cumsum(gt[order] > 0), np.cumsum(gt[order] < 0)
    rec, prec = tp / (gt > 0).sum(), tp / np.maximum(tp + fp, 1)
    return float(np.mean([prec[rec >= t].max() if (rec >= t).any() else 0.0 for t in np.linspace(0, 1, 11)]))


def test_map11_equals_the_devkit_rule_with_difficult_pairs():
    rng = np.random.default_rng(0)
    gt = rng.choice([1, -1, 0], size=(60, 4), p=[0.3, 0.5, 0.2])  # devkit labels
    scores = rng.normal(size=(60, 4)) + gt  # informative but imperfect, no ties
    ours = torch.tensor(np.select([gt == 1, gt == -1], [1.0, 0.0], IGNORE))  # our encoding
    expected = np.mean([_devkit_ap11(scores[:, c], gt[:, c]) for c in range(4)])
    assert abs(map11(torch.tensor(scores, dtype=torch.float32), ours) - expected) < 1e-6
    assert abs(map11(torch.tensor(scores, dtype=torch.float32), ours.clamp(min=0)) - expected) > 1e-3
