"""LARS (evalsuite/lars.py), one step by hand: trust ratio, exclusion of 1-d parameters, clip mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from evalsuite.lars import LARS


def _params():
    w = nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
    b = nn.Parameter(torch.tensor([1.0]))
    w.grad, b.grad = torch.tensor([[0.6, 0.8]]), torch.tensor([0.5])  # ||g_w|| = 1
    return w, b


def test_trust_ratio_scales_weights_and_skips_biases():
    w, b = _params()
    LARS([w, b], lr=1.0, momentum=0.0, weight_decay=0.0, eta=0.001).step()
    assert torch.allclose(w.detach(), torch.tensor([[3.0 - 0.003, 4.0 - 0.004]]))  # g x 0.001 x 5 / 1
    assert torch.allclose(b.detach(), torch.tensor([0.5]))  # 1-d: plain SGD step


def test_weight_decay_enters_the_update_and_its_norm():
    w, _ = _params()
    LARS([w], lr=1.0, momentum=0.0, weight_decay=0.2, eta=0.01).step()
    update = torch.tensor([[0.6 + 0.6, 0.8 + 0.8]])  # g + 0.2 w, norm 2
    assert torch.allclose(w.detach(), torch.tensor([[3.0, 4.0]]) - update * 0.01 * 5 / 2)


def test_group_flag_overrides_the_dimension_rule():
    w, b = _params()
    LARS([dict(params=[w], lars_exclude=True), dict(params=[b], lars_exclude=False)], lr=1.0, momentum=0.0,
         weight_decay=0.0, eta=0.1).step()
    assert torch.allclose(w.detach(), torch.tensor([[2.4, 3.2]]))  # excluded: plain step
    assert torch.allclose(b.detach(), torch.tensor([1.0 - 0.5 * 0.1 * 1.0 / 0.5]))  # adapted: ratio 0.2


@pytest.mark.parametrize("lr, expected_step", [(2.0, 0.1), (0.05, 0.05)])
def test_clip_mode_caps_a_layers_step_at_the_global_lr(lr, expected_step):
    # trust ratio 0.02 x 5 / 1 = 0.1: unclipped the step would be lr x 0.1; clipped it is min(0.1, lr).
    w, _ = _params()
    LARS([w], lr=lr, momentum=0.0, eta=0.02, clip_lr=True).step()
    assert torch.allclose(w.detach(), torch.tensor([[3.0, 4.0]]) - expected_step * torch.tensor([[0.6, 0.8]]))
    w2, _ = _params()
    LARS([w2], lr=lr, momentum=0.0, eta=0.02).step()
    assert torch.allclose(w2.detach(), torch.tensor([[3.0, 4.0]]) - lr * 0.1 * torch.tensor([[0.6, 0.8]]))
