"""kNN votes against values computed by hand."""

import math

import torch

from evalsuite.tasks.knn import knn_scores


def test_weighted_votes_match_hand_computation():
    # Four training points on the unit circle, classes 0, 0, 1, 1; one query at 0 degrees.
    angles = torch.tensor([0.0, 60.0, 90.0, 180.0]) * math.pi / 180
    bank = torch.stack([angles.cos(), angles.sin()], 1) * torch.tensor([[2.0], [1.0], [3.0], [0.5]])  # norms differ
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[5.0, 0.0]])
    T = 0.5
    scores = knn_scores(bank, labels, query, ks=(1, 3, 4), temperature=T, num_classes=2)
    # cos similarities to the query: 1, 0.5, 0, -1 (normalisation removes the norms)
    w = [math.exp(1 / T), math.exp(0.5 / T), math.exp(0 / T), math.exp(-1 / T)]
    torch.testing.assert_close(scores[1], torch.tensor([[w[0], 0.0]]))
    torch.testing.assert_close(scores[3], torch.tensor([[w[0] + w[1], w[2]]]))
    torch.testing.assert_close(scores[4], torch.tensor([[w[0] + w[1], w[2] + w[3]]]))


def test_weights_can_overturn_the_majority():
    # k=3: two far class-1 neighbours lose to one very close class-0 neighbour at low temperature.
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0, 0.05]])
    s = knn_scores(bank, labels, query, ks=(3,), temperature=0.07, num_classes=2)[3]
    assert s.argmax(1).item() == 0
    s_hot = knn_scores(bank, labels, query, ks=(3,), temperature=100.0, num_classes=2)[3]
    assert s_hot.argmax(1).item() == 1  # near-uniform weights: the majority wins


def test_chunking_does_not_change_scores():
    g = torch.Generator().manual_seed(0)
    bank, queries = torch.randn(50, 8, generator=g), torch.randn(17, 8, generator=g)
    labels = torch.randint(0, 3, (50,), generator=g)
    a = knn_scores(bank, labels, queries, (5, 10), 0.07, 3, chunk_size=4)
    b = knn_scores(bank, labels, queries, (5, 10), 0.07, 3, chunk_size=1000)
    for k in (5, 10):
        torch.testing.assert_close(a[k], b[k])


def test_multilabel_bank_sums_weighted_label_vectors():
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    s = knn_scores(bank, targets, torch.tensor([[1.0, 0.0]]), (2,), 1.0, 3)[2]
    torch.testing.assert_close(s, torch.tensor([[math.e, math.e + 1, 1.0]]))
