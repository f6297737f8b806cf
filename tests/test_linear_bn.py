"""MAE's linear protocol (evalsuite/tasks/linear_bn.py), and ViT-Tiny and ResNet-18 through the
token and feature probes end to end."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

import evalsuite
from evalsuite.tasks.linear_bn import LinearBN, bn_linear_head


def _data(n: int = 64, d: int = 10, classes: int = 3):
    g = torch.Generator().manual_seed(0)
    scale = torch.logspace(-1, 3, d)  # features whose scales differ by 10^4, as across pre-training methods
    x = (torch.randn(n, d, generator=g) + torch.randn(d, generator=g) * 5) * scale  # (n, d)
    y = torch.randint(classes, (n,), generator=g)
    return x.double(), y, classes


def _twin(dim: int, classes: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    bn_head = bn_linear_head(dim, classes).double()
    plain = nn.Linear(dim, classes).double()
    plain.load_state_dict(bn_head[1].state_dict())
    return bn_head, plain


def test_bn_head_is_a_plain_head_on_standardised_features_with_full_batches():
    """With the whole train set in every batch, the affine-free BN is the fixed standardisation by
    the set's mean and (biased) variance, so training takes the same steps: same weights. At test
    time BN uses its running statistics (unbiased variance, averaged over 90 steps of momentum 0.1,
    which keep 0.9^90 = 8e-5 of their initial value 1), so the logits agree up to those two."""
    x, y, classes = _data()
    task = LinearBN(epochs=90, warmup_epochs=10, batch_size=1024)
    bn_head, plain = _twin(x.shape[1], classes)
    task.fit(bn_head, x, y, False, seed=0)
    mean, var = x.mean(0), x.var(0, unbiased=False)
    task.fit(plain, (x - mean) / torch.sqrt(var + 1e-6), y, False, seed=0)
    assert torch.allclose(bn_head[1].weight, plain.weight, rtol=1e-9, atol=1e-9)
    assert torch.allclose(bn_head[1].bias, plain.bias, rtol=1e-9, atol=1e-9)
    bn_head.eval()
    unbiased = (x - mean) / torch.sqrt(x.var(0, unbiased=True) + 1e-6)
    with torch.no_grad():
        assert torch.allclose(bn_head(x), plain(unbiased), rtol=5e-3, atol=5e-3)
        assert torch.equal(bn_head(x).argmax(1), plain(unbiased).argmax(1))


def test_bn_head_is_not_plain_standardisation_with_minibatches():
    x, y, classes = _data()
    task = LinearBN(epochs=20, warmup_epochs=2, batch_size=16)
    bn_head, plain = _twin(x.shape[1], classes)
    start = plain.weight.detach().clone()
    task.fit(bn_head, x, y, False, seed=0)
    task.fit(plain, (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-6), y, False, seed=0)
    moved_bn, moved_plain = bn_head[1].weight - start, plain.weight - start
    # each batch is normalised by its own statistics: the steps differ by well over rounding
    assert (moved_bn - moved_plain).norm() > 0.02 * moved_plain.norm()


def test_mae_schedule_and_scaled_learning_rate():
    task = LinearBN()
    assert (task.epochs, task.warmup_epochs, task.batch_size, task.base_lr, task.weight_decay) == (90, 10, 16384, 0.1, 0.0)
    peak = task.base_lr * task.batch_size / 256
    assert peak == pytest.approx(6.4)
    assert task.lr_at(0, peak) == 0 and task.lr_at(5, peak) == pytest.approx(3.2) and task.lr_at(10, peak) == peak
    assert task.lr_at(50, peak) == pytest.approx(peak * 0.5 * (1 + math.cos(math.pi * 40 / 80)))
    assert task.lr_at(90, peak) == pytest.approx(0.0, abs=1e-12)
    x, y, classes = _data(n=40)
    chosen, losses = LinearBN(epochs=3, warmup_epochs=1).fit(bn_linear_head(x.shape[1], classes).double(), x, y,
                                                             False, seed=0)
    assert chosen == {"batch": 40, "lr": pytest.approx(0.1 * 40 / 256)} and len(losses) == 3


@pytest.mark.parametrize("arch", ["vit_tiny_patch16", "resnet18"])
def test_vit_tiny_and_resnet18_through_the_probes(arch, tmp_path, one_thread):
    from test_contracts import colour_folder

    data = f"imagefolder:{colour_folder(tmp_path / 'colours')}"
    options = {"features.resize": 32, "knn.ks": [5], "knn.headline_k": 5, "linear_bn.epochs": 3, "linear_bn.warmup_epochs": 1,
               "attentive.epochs": 3, "attentive.batch_size": 8, "attentive.lrs": [1e-3], "attentive.wds": [1e-3, 1e-2]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = evalsuite.evaluate("random", arch=arch, datasets=data, tasks=["knn", "linear_bn", "attentive"],
                                device="cpu", quiet=True, cache_dir=str(tmp_path / "cache"), cfg_options=options)
    assert list(df["task"]) == ["knn", "linear_bn", "attentive"]
    assert all(0.0 <= v <= 1.0 for v in df["value"])
    att = df[df["task"] == "attentive"].iloc[0]
    tokens = 1 + 4 if arch.startswith("vit") else 1  # 32 px: 2 x 2 patches and a class token; ResNet-18: a 1 x 1 map
    assert att["extra"]["tokens"]["shape"][0] == tokens and set(att["extra"]["val_scores"]) == {
        "lr=0.001,wd=0.001", "lr=0.001,wd=0.01"}
    assert df[df["task"] == "linear_bn"].iloc[0]["chosen"]["batch"] == 24  # the whole train split: nothing is tuned
