import numpy as np
import torch

from evalsuite.datasets.base import IGNORE
from evalsuite.tasks.metrics import (average_precision_11, average_precision_area, extra_scores, map11, map_area,
                                     mean_per_class, score, top1)


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


def test_area_ap_by_hand():
    # ranking +, -, -, +, +: precision 1 at the first hit, 2/4 at the second, 3/5 at the third.
    # The all-point rule lifts the second to the best later precision (3/5): (1 + 3/5 + 3/5) / 3.
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    targets = torch.tensor([1, 0, 0, 1, 1])
    assert abs(average_precision_area(scores, targets) - 11 / 15) < 1e-12
    # ranking +, -, +, -, +: precisions 1, 2/3, 3/5 already fall, so nothing is lifted
    assert abs(average_precision_area(scores, torch.tensor([1, 0, 1, 0, 1])) - (1 + 2 / 3 + 3 / 5) / 3) < 1e-12


def test_map_area_leaves_ignored_pairs_out_and_skips_classes_without_a_positive():
    # class 0: ranking +, ignored, -, -, +, + -> without the ignored pair the hand case above (11/15)
    # class 1: its only positive ignored -> not averaged in
    scores = torch.tensor([[0.9, 0.9], [0.85, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.5, 0.5]])
    targets = torch.tensor([[1.0, IGNORE], [IGNORE, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert abs(map_area(scores, targets) - 11 / 15) < 1e-9
    assert abs(score("map_area", scores, targets) - 11 / 15) < 1e-6


def _vocap(scores: np.ndarray, positive: np.ndarray) -> float:
    """The VOC2010+ devkit's VOCap as the VOC07 SVM benchmarks use it (fair_self_supervision_benchmark
    tools/svm/svm_helper.py, vissl vissl/utils/svm_utils/evaluate.py), written from its description:
    recall padded with 0 and 1, precision with 0 and 0, precision made non-increasing from the right,
    then the sum of (recall step) x (precision) wherever recall changes."""
    hits = positive[np.argsort(-scores, kind="stable")]
    tp = np.cumsum(hits)
    rec = np.concatenate([[0.0], tp / hits.sum(), [1.0]])
    prec = np.concatenate([[0.0], tp / np.arange(1, len(hits) + 1), [0.0]])
    prec = np.maximum.accumulate(prec[::-1])[::-1]
    steps = np.flatnonzero(rec[1:] != rec[:-1]) + 1
    return float(np.sum((rec[steps] - rec[steps - 1]) * prec[steps]))


def test_map_area_equals_the_reference_rule_and_bounds_sklearn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    gt = rng.choice([1, 0, -1], size=(60, 4), p=[0.3, 0.5, 0.2])  # -1: IGNORE
    scores = rng.normal(size=(60, 4)) + gt  # informative but imperfect, no ties
    kept = [gt[:, c] != -1 for c in range(4)]
    reference = [_vocap(scores[k, c], gt[k, c] == 1) for c, k in enumerate(kept)]
    ours = map_area(torch.tensor(scores), torch.tensor(gt, dtype=torch.float32))
    assert abs(ours - np.mean(reference)) < 1e-9
    # scikit-learn's step sum uses the raw precision at each hit, never lifted: never above the area
    # AP, and equal to it exactly where the raw precision already falls at every hit.
    plain = [average_precision_score(gt[k, c] == 1, scores[k, c]) for c, k in enumerate(kept)]
    assert all(p <= r + 1e-12 for p, r in zip(plain, reference)) and np.mean(plain) < ours - 1e-3
    falling = np.array([5.0, 4, 3, 2, 1])
    assert abs(average_precision_score([1, 0, 1, 0, 1], falling) - _vocap(falling, np.array([1, 0, 1, 0, 1]))) < 1e-12


def test_extra_scores_only_for_map11_sets():
    scores, targets = torch.tensor([[0.9], [0.1]]), torch.tensor([[1.0], [0.0]])
    assert extra_scores("map11", scores, targets) == {"map_area": 1.0}
    assert extra_scores("top1", torch.tensor([[0.9, 0.1]]), torch.tensor([0])) == {}
