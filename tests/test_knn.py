"""kNN votes against values computed by hand."""

import math

import torch

from evalsuite.datasets.base import IGNORE
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


def _ctx(n_train: int, n_test: int = 4):
    """An EvalContext over features given directly: class = sign of the first coordinate."""
    from torch.utils.data import TensorDataset

    from evalsuite.datasets.base import DatasetSpec
    from evalsuite.tasks.base import EvalContext

    g = torch.Generator().manual_seed(0)
    feats = {s: torch.randn(n, 3, generator=g) for s, n in (("train", n_train), ("test", n_test))}
    data = {s: (f, (f[:, 0] > 0).long()) for s, f in feats.items()}
    spec = DatasetSpec(name="toy", splits={s: TensorDataset(*d) for s, d in data.items()}, classes=["neg", "pos"])
    return spec, EvalContext(spec=spec, seed=0, device=torch.device("cpu"), feature_fn=lambda s: data[s],
                             backbone_fn=lambda: None)


def test_k_above_the_memory_bank_is_refused_before_any_work():
    import pytest

    from evalsuite.errors import EvalsuiteError
    from evalsuite.tasks.knn import KNN

    spec, ctx = _ctx(n_train=6)
    with pytest.raises(EvalsuiteError, match=r"knn k=10 exceeds the memory bank of 6 images; .*knn.cap_k=true"):
        KNN(ks=(1, 10), headline_k=1).check(spec)
    with pytest.raises(EvalsuiteError, match="knn k=10 exceeds"):
        KNN(ks=(1, 10), headline_k=1).run(ctx)
    KNN(ks=(1, 6), headline_k=1).check(spec)  # the whole bank is a valid k


def test_capped_k_is_named_by_the_k_used():
    """With knn.cap_k the row names the k that applied (6, the bank), never the k asked (10)."""
    from evalsuite.tasks.base import settings_of
    from evalsuite.tasks.knn import KNN

    _, ctx = _ctx(n_train=6)
    out = KNN(ks=(1, 10), headline_k=10, cap_k=True).run(ctx)
    assert set(out.metrics) == {"top1@k=1", "top1@k=6"} and out.metric == "top1@k=6"
    assert out.extra["k_used"] == {"1": 1, "10": 6}
    assert settings_of(KNN(ks=(1, 10), headline_k=10, cap_k=True))["cap_k"] is True
    assert "cap_k" not in settings_of(KNN())  # off: rows and protocol ids as before the setting existed
    assert "k_used" not in KNN(ks=(1, 3), headline_k=1).run(ctx).extra


def test_an_ignored_pair_casts_no_vote():
    """A bank image's IGNORE pair (VOC's difficult-only class) votes as a negative: nothing."""
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([[1.0, IGNORE, 0.0], [0.0, 1.0, IGNORE]])
    s = knn_scores(bank, targets, torch.tensor([[1.0, 0.0]]), (2,), 1.0, 3)[2]
    torch.testing.assert_close(s, torch.tensor([[math.e, 1.0, 0.0]]))
