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


def _reference(bank, labels, queries, ks, temperature, num_classes):
    """Brute force: every similarity at once, neighbours ordered by similarity then bank index."""
    import torch.nn.functional as F

    sims = F.normalize(queries, dim=1) @ F.normalize(bank, dim=1).T  # (M, N)
    order = sims.argsort(dim=1, descending=True, stable=True)
    out = {}
    for k in ks:
        idx = order[:, :k]
        weights = (sims.gather(1, idx) / temperature).exp()
        out[k] = F.one_hot(labels[idx], num_classes).float().mul(weights.unsqueeze(-1)).sum(1)
    return out


def _blocked(bank, labels, queries, ks, temperature, num_classes, rows, chunk=5):
    """knn_scores' search with ``rows`` bank rows per block (block_mb cannot go below 1 MiB)."""
    from unittest import mock

    import evalsuite.neighbours as knn

    with mock.patch.object(knn, "block_rows", lambda *a: rows):
        return knn.knn_scores(bank, labels, queries, ks, temperature, num_classes, chunk_size=chunk)


def test_blocked_search_equals_brute_force_for_every_block_size():
    g = torch.Generator().manual_seed(1)
    bank, queries = torch.randn(300, 16, generator=g), torch.randn(23, 16, generator=g)
    labels = torch.randint(0, 7, (300,), generator=g)
    ks = (1, 10, 20, 100, 200)
    want = _reference(bank, labels, queries, ks, 0.07, 7)
    for rows in (1, 7, 64, 199, 300, 10_000):
        got = _blocked(bank, labels, queries, ks, 0.07, 7, rows)
        for k in ks:
            torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=0)
            assert torch.equal(got[k].argmax(1), want[k].argmax(1)), (rows, k)


def test_ties_go_to_the_lower_bank_index_whatever_the_block_size():
    # Collapsed features: every bank row is the same vector, so every similarity ties; k=3 must take
    # rows 0, 1, 2 (labels 2, 2, 0) and so vote class 2, whichever block each row falls in.
    bank = torch.ones(40, 4)
    labels = torch.tensor([2, 2, 0] + [1] * 37)
    queries = torch.tensor([[1.0, 0.5, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    want = _reference(bank, labels, queries, (3, 5), 0.07, 3)
    assert want[3].argmax(1).tolist() == [2, 2] and want[5].argmax(1).tolist() == [1, 1]
    for rows in (1, 2, 3, 5, 16, 40):
        got = _blocked(bank, labels, queries, (3, 5), 0.07, 3, rows)
        for k in (3, 5):
            torch.testing.assert_close(got[k], want[k])
    # Duplicates among distinct features: a tie straddling topk's cut inside one block.
    g = torch.Generator().manual_seed(2)
    base = torch.randn(30, 8, generator=g)
    bank = torch.cat([base, base, base])  # rows i, i+30, i+60 are the same image
    labels = torch.randint(0, 4, (90,), generator=g)
    queries = torch.randn(9, 8, generator=g)
    want = _reference(bank, labels, queries, (2, 4, 10), 0.07, 4)
    for rows in (4, 31, 90):
        got = _blocked(bank, labels, queries, (2, 4, 10), 0.07, 4, rows)
        for k in (2, 4, 10):
            torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=0)


def test_block_rows_keep_a_step_within_its_budget_whatever_the_bank():
    from evalsuite.tasks.knn import block_budget, block_rows

    budget = block_budget(torch.device("cpu"), 64)
    rows = block_rows(budget, 1024, 384)
    assert budget == 64 << 20 and rows * 4 * (1024 + 384) <= budget < (rows + 1) * 4 * (1024 + 384)
    assert block_budget(torch.device("cpu"), 0) == 256 << 20
