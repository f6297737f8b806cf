"""linear_multi: the heads trained together equal each head trained alone on the same batches,
the learning rate follows DINOv2's scaling and cosine, the best head is chosen on val only, and a
ViT's cls_last4+avgpool features are sliced into DINOv2's four inputs."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from evalsuite.tasks.base import Split
from evalsuite.tasks.linear_multi import LEARNING_RATES, Head, _init, _order, inputs_of, train_heads


def _data(n: int = 40, dim: int = 10, classes: int = 3) -> Split:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    x = torch.randn(n, dim, generator=g) + F.one_hot(y, dim).float() * 2  # (N, D), separable-ish
    return Split(x, y)


def test_many_heads_in_one_pass_equal_each_head_alone():
    data = _data()
    inputs = inputs_of("cls_last4+avgpool", 10)  # C = 2: four slices of the 10 columns
    heads = [Head(name, cols, lr) for name, cols in inputs.items() for lr in (0.05, 0.5)]
    together = train_heads(data, heads, 3, epochs=3, batch=8, momentum=0.9, init_std=0.01, seed=1,
                           device=torch.device("cpu"))
    for head, (w, b) in zip(heads, together):
        (w1, b1), = train_heads(data, [head], 3, epochs=3, batch=8, momentum=0.9, init_std=0.01, seed=1,
                                device=torch.device("cpu"))
        assert torch.equal(w, w1) and torch.equal(b, b1), head
    assert not torch.equal(together[0][0], together[1][0])  # the rate matters


def test_one_head_is_plain_sgd_with_scaled_cosine_rate():
    """A hand-written loop: SGD momentum 0.9, rate lr x batch / 256 x cosine to 0, DINOv2's settings."""
    data, head = _data(16, 4), Head("features", (0, 4), 0.3)
    (w, b), = train_heads(data, [head], 3, epochs=2, batch=8, momentum=0.9, init_std=0.01, seed=0,
                          device=torch.device("cpu"))
    w0, b0 = _init(head, 3, 0.01, 0)
    bufs, total, step = None, 4, 0
    for epoch in range(2):
        for index in _order(16, 8, 0, epoch):
            w0, b0 = w0.clone().requires_grad_(), b0.clone().requires_grad_()
            F.cross_entropy(data.features[index] @ w0 + b0, data.targets[index]).backward()
            grads = [w0.grad, b0.grad]
            bufs = grads if bufs is None else [0.9 * m + g for m, g in zip(bufs, grads)]
            lr = 0.3 * 8 / 256 * 0.5 * (1 + math.cos(math.pi * step / total))
            w0, b0 = (w0 - lr * bufs[0]).detach(), (b0 - lr * bufs[1]).detach()
            step += 1
    assert torch.allclose(w, w0, atol=1e-7) and torch.allclose(b, b0, atol=1e-7)


def test_inputs_are_dinov2s_four_and_the_rates_its_thirteen():
    assert inputs_of("cls_last4+avgpool", 5 * 384) == {
        "cls_last1": (1152, 1536), "cls_last1+avgpool": (1152, 1920), "cls_last4": (0, 1536), "cls_last4+avgpool": (0, 1920)}
    assert inputs_of(None, 64) == {"features": (0, 64)} and inputs_of("cls", 384) == {"cls": (0, 384)}
    assert len(LEARNING_RATES) == 13 and LEARNING_RATES[0] == 1e-5 and LEARNING_RATES[-1] == 0.1

