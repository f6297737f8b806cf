"""Optimisation pieces the methods need and mmengine lacks: LARS (``evalsuite/lars.py``, registered
here), bf16 autocast without a loss scaler, per-method parameter groups and cosine decay that
leaves fixed-lr groups alone."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import CosineAnnealingLR, DefaultOptimWrapperConstructor, LinearLR, OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS, PARAM_SCHEDULERS
from torch import nn

from evalsuite.lars import LARS

OPTIMIZERS.register_module(module=LARS)


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """bf16 autocast on CUDA; bf16 has fp32's range, so no GradScaler and its per-step host sync."""

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast("cuda", dtype=torch.bfloat16):
            yield


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MethodParamGroups(DefaultOptimWrapperConstructor):
    """Parameter groups from the method: ``fix_lr`` for the modules a method names in
    ``fixed_lr_modules`` (SimSiam's predictor), ``lars_exclude`` + no weight decay for biases and
    BN parameters when the optimizer is LARS."""

    def __call__(self, model: nn.Module) -> OptimWrapper:
        module = getattr(model, "module", model)
        fixed = tuple(getattr(module, "fixed_lr_modules", ()))
        is_lars = self.optimizer_cfg.get("type") in ("LARS", LARS)
        groups: dict[tuple[bool, bool], list] = {}
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            key = (name.startswith(fixed) if fixed else False, is_lars and p.ndim <= 1)
            groups.setdefault(key, []).append(p)
        param_groups = []
        for (fix_lr, exclude), params in groups.items():
            group = dict(params=params, fix_lr=fix_lr)
            if is_lars:
                group.update(lars_exclude=exclude, weight_decay=0.0 if exclude else self.optimizer_cfg.get("weight_decay", 0.0))
            param_groups.append(group)
        optimizer_cfg = dict(self.optimizer_cfg, params=param_groups)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(dict(self.optim_wrapper_cfg), default_args=dict(optimizer=optimizer))


def _keep_fixed(scheduler, values: list[float]) -> list[float]:
    return [g[f"initial_{scheduler.param_name}"] if g.get("fix_lr") else v
            for g, v in zip(scheduler.optimizer.param_groups, values)]


@PARAM_SCHEDULERS.register_module()
class FixAwareCosineLR(CosineAnnealingLR):
    """Cosine decay except for ``fix_lr`` groups (SimSiam, Chen & He 2021, Sec. 4.4 and App. A)."""

    def _get_value(self):
        return _keep_fixed(self, super()._get_value())


@PARAM_SCHEDULERS.register_module()
class FixAwareLinearLR(LinearLR):
    """Linear warm-up except for ``fix_lr`` groups."""

    def _get_value(self):
        return _keep_fixed(self, super()._get_value())
