import torch

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
