"""Each CIFAR-10 recipe's training step equals the same step built from lightly's modules.

Same initial weights in both (lightly's heads are built and initialised by lightly, then loaded
into evalsuite's model by name), the same two views, float64 throughout: the loss, every
gradient and every weight after one SGD step agree to rtol 1e-9 (float64 round-off of two
summation orders is about 1e-15); BYOL's EMA target and NNCLR's support set agree after several
steps. evalsuite's step runs exactly as the trainer runs it on one process: ``train_step`` through
``FastStep`` with the optimizer of ``MethodParamGroups``; only the augmentation is replaced by
the fixed views (16 px: the size does not enter the method's arithmetic). Backbone: ``resnet_tiny``
(the heads are the recipe's full size); the optimizer
is lightly cifar10_benchmark.py's SGD (momentum 0.9, weight decay 5e-4) for every method, LARS
has its own comparison in test_lightly_oracle_pins.py.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from evalsuite.pretrain.optim import MethodParamGroups
from evalsuite.pretrain.trainer import build_model, load_recipe
from tests.fixtures.lightly_reference import (BYOLReference, NNCLRReference, SimCLRReference, SimSiamReference,
                                              evalsuite_name)

N, SIDE, LR, STEPS = 16, 16, 0.06, 2
TOL = dict(rtol=1e-9, atol=1e-12)


def build_pair(recipe: str, reference, **method):
    """evalsuite's model from ``recipe`` (tiny backbone, float64) and ``reference(backbone, width)``
    with lightly's initial head weights loaded into evalsuite's model."""
    torch.manual_seed(0)
    cfg = load_recipe(recipe, {"method.arch": "resnet_tiny", **{f"method.{k}": v for k, v in method.items()}})
    model = build_model(cfg, 10, torch.device("cpu")).double()
    ref = reference(copy.deepcopy(model.backbone), model.backbone.num_features).double()
    ref_state = {evalsuite_name(k): v for k, v in ref.state_dict().items() if not k.startswith("memory_bank.")}
    own = {k: v for k, v in model.state_dict().items() if k.startswith("queue")}
    model.load_state_dict({**ref_state, **own}, strict=True)  # a head of another shape or layout fails here
    return model, ref


def sgd(params_or_model):
    cfg = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=LR, momentum=0.9, weight_decay=5e-4))
    if isinstance(params_or_model, torch.nn.Module):
        return MethodParamGroups(cfg)(params_or_model)
    return torch.optim.SGD(params_or_model, lr=LR, momentum=0.9, weight_decay=5e-4)


def views(step: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    return [torch.randn(N, 3, SIDE, SIDE, generator=g, dtype=torch.float64) for _ in range(2)]


def evalsuite_steps(model, steps: int):
    """Run ``steps`` trainer steps; per step the float64 loss and the gradients seen by the optimizer."""
    wrapper = sgd(model)
    record = []
    loss_fn = model.loss
    model.loss = lambda v, labels=None: record.append({"loss": (out := loss_fn(v, labels))["loss"].detach()}) or out
    wrapper.optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: record[-1].update(grads={id(p): p.grad.clone() for g in opt.param_groups
                                                           for p in g["params"]}))
    data = {"inputs": torch.zeros(N, 3, 32, 32, dtype=torch.uint8), "labels": torch.zeros(N, dtype=torch.long)}
    for step in range(steps):
        model.data_preprocessor.augment = lambda images, g, v=views(step): v
        model.train_step(data, wrapper)
    return record


def reference_steps(ref, steps: int):
    opt = sgd(ref.online_parameters())
    record = []
    for step in range(steps):
        loss = ref.step(*views(step))
        loss.backward()
        record.append({"loss": loss.detach(), "grads": {n: p.grad.clone() for n, p in ref.named_parameters()
                                                        if p.grad is not None}})
        opt.step()
        opt.zero_grad()
        ref.after_step(step)
    return record


def assert_same_step(model, ref, ours, theirs, loss_offset: float = 0.0):
    params = dict(model.named_parameters())
    for mine, other in zip(ours, theirs):
        torch.testing.assert_close(mine["loss"], other["loss"] + loss_offset, **TOL)
        assert len(mine["grads"]) == len(other["grads"])
        for name, grad in other["grads"].items():
            torch.testing.assert_close(mine["grads"][id(params[evalsuite_name(name)])], grad, **TOL, msg=name)
    for name, p in ref.named_parameters():
        torch.testing.assert_close(params[evalsuite_name(name)].detach(), p.detach(), **TOL, msg=name)


@pytest.mark.usefixtures("one_thread")
def test_simsiam_step_equals_lightly():
    model, ref = build_pair("simsiam_cifar10_resnet18", SimSiamReference)
    assert_same_step(model, ref, evalsuite_steps(model, 1), reference_steps(ref, 1))


@pytest.mark.usefixtures("one_thread")
def test_simclr_step_equals_lightly_ntxent():
    model, ref = build_pair("simclr_cifar10_resnet18", SimCLRReference)
    assert_same_step(model, ref, evalsuite_steps(model, 1), reference_steps(ref, 1))


@pytest.mark.usefixtures("one_thread")
def test_byol_steps_and_ema_target_equal_lightly():
    """Loss 2 - 2 cos per direction = lightly's 2 x NegativeCosineSimilarity + 2; after STEPS steps
    of a K = STEPS + 1 step run the target equals lightly's update_momentum at cosine_schedule."""
    model, ref = build_pair("byol_cifar10_resnet18", lambda b, w: BYOLReference(b, w, STEPS + 1), total_steps=STEPS + 1)
    ours, theirs = evalsuite_steps(model, STEPS), reference_steps(ref, STEPS)
    assert_same_step(model, ref, ours, theirs, loss_offset=4.0)
    mine = dict(model.named_parameters())
    for name, p in ref.named_parameters():
        if "momentum" in name:
            torch.testing.assert_close(mine[evalsuite_name(name)].detach(), p.detach(), **TOL, msg=name)
    online = mine["projector.0.weight"].detach()
    assert not torch.allclose(mine["target_projector.0.weight"], online)  # the EMA lags: the comparison means something


@pytest.mark.usefixtures("one_thread")
def test_nnclr_steps_and_support_set_equal_lightly():
    """A support set of 2 batches, pre-filled alike, wraps within the 3 steps."""
    queue = 2 * N
    model, ref = build_pair("nnclr_cifar10_resnet18", lambda b, w: NNCLRReference(b, w, queue), queue_size=queue)
    start = F.normalize(torch.randn(queue, 256, generator=torch.Generator().manual_seed(7), dtype=torch.float64), dim=1)
    model.queue.copy_(start)
    model.queue_filled.fill_(queue)
    ref.memory_bank.bank.copy_(start)
    ours, theirs = evalsuite_steps(model, 3), reference_steps(ref, 3)
    assert_same_step(model, ref, ours, theirs)
    torch.testing.assert_close(model.queue, F.normalize(ref.memory_bank.bank, dim=1), **TOL)
    assert int(model.queue_ptr) == int(ref.memory_bank.bank_ptr) == (3 * N) % queue
