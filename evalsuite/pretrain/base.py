"""What every pre-training method shares: backbone, preprocessor, a sync-free train step.

A method subclasses ``PretrainModel`` once and implements ``loss(views, labels) -> dict`` with
``loss`` (optimised) and ``std`` (the collapse indicator); anything else the method does per step
(BYOL's EMA, NNCLR's queue) lives in its own file. Per-epoch sums stay on the device and are read
once per epoch by the monitor hook, so no step waits for the host.
"""

from __future__ import annotations

import torch
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from evalsuite.archs import build_backbone
from evalsuite.pretrain.fast_step import FastStep
from evalsuite.pretrain.preprocessor import MultiViewPreprocessor

#: Two-view default (overridden by every recipe): SimSiam's CIFAR augmentation.
TWO_VIEWS = [dict(), dict()]


class PretrainModel(BaseModel):
    """Args:
        arch: registered backbone name (``evalsuite list archs``).
        views: per-view augmentation dicts (``evalsuite.pretrain.augment.ViewSpec`` fields).
        arch_options: the arch's construction options, e.g. ``dict(zero_init_residual=True)``.
    """

    #: Parameter-name prefixes whose lr the schedule leaves constant (SimSiam's predictor).
    fixed_lr_modules: tuple[str, ...] = ()
    #: What the method needs from the data, read by the trainer: the views per image it is built
    #: for, and whether it trains on labels (the trainer then passes the dataset's class count as
    #: ``num_classes`` and records the checkpoint as supervised).
    num_views: int = 2
    needs_labels: bool = False

    def __init__(self, arch: str, views: list[dict] | None = None, arch_options: dict | None = None) -> None:
        super().__init__(data_preprocessor=MultiViewPreprocessor(views or TWO_VIEWS))
        self.arch = arch
        self.backbone = build_backbone(arch, **dict(arch_options or {}))
        self.register_buffer("_epoch_sums", torch.zeros(3), persistent=False)  # loss, std, steps
        self._fast: dict | None = None  # FastStep settings, set by ``use_fast_step``
        self.fast_step = None  # the FastStep, built at the first step (it needs the Runner's optimizer)

    def use_fast_step(self, compile_mode: str | None = None, amp: bool = True) -> None:
        """Train through ``evalsuite.pretrain.fast_step.FastStep`` (one function, compiled on CUDA
        when ``compile_mode`` is set) instead of mmengine's per-step ``OptimWrapper`` path."""
        self._fast = dict(compile_mode=compile_mode, amp=amp)

    def loss(self, views: list[torch.Tensor], labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self, inputs, data_samples=None, mode: str = "loss"):
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "tensor":
            return self.backbone(inputs[0] if isinstance(inputs, list) else inputs)
        raise ValueError(f"unknown mode {mode!r}; valid modes are: loss, tensor")

    def train_step(self, data: dict, optim_wrapper, wrapper: torch.nn.Module | None = None) -> dict:
        """Augment, forward, update; ``wrapper`` is the DDP module whose forward syncs gradients.
        A single process with ``use_fast_step`` set takes the fast step, which computes the same."""
        if self._fast is not None and wrapper is None:
            if self.fast_step is None:
                self.fast_step = FastStep(self, optim_wrapper.optimizer, **self._fast)
            return self.fast_step(data)
        outer = wrapper or self
        with optim_wrapper.optim_context(outer):
            data = self.data_preprocessor(data, True)
            out = outer._run_forward(data, mode="loss")
        optim_wrapper.update_params(out["loss"])
        self.after_update()
        return self.add_to_epoch({k: v.detach().float() for k, v in out.items()})

    def add_to_epoch(self, logged: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Add a step's detached loss and std to the epoch sums on the device (no host sync)."""
        self._epoch_sums += torch.stack([logged["loss"], logged["std"], torch.ones_like(logged["loss"])])
        return logged

    def after_update(self) -> None:
        """Per-step work after the optimizer step (BYOL's target update)."""

    def pop_epoch_stats(self) -> torch.Tensor:
        """(3,) sums of loss, std and steps since the last call; resets them."""
        sums = self._epoch_sums.clone()
        self._epoch_sums.zero_()
        return sums

    def backbone_state_dict(self) -> dict[str, torch.Tensor]:
        """Backbone weights in torchvision naming, what ``save_backbone`` stores."""
        return {k: v.detach().cpu().clone() for k, v in self.backbone.state_dict().items()}


@MODEL_WRAPPERS.register_module()
class MethodDDP(MMDistributedDataParallel):
    """DDP that lets the method run its own ``train_step`` (EMA, queues, on-device sums)."""

    def __init__(self, module, device_ids=None, **kwargs):
        if next(module.parameters()).device.type == "cpu":
            device_ids = None  # gloo on CPU
        super().__init__(module=module, device_ids=device_ids, **kwargs)

    def train_step(self, data, optim_wrapper):
        return self.module.train_step(data, optim_wrapper, wrapper=self)


def self_supervised() -> list[str]:
    """Every registered method that learns without labels, sorted: the benchmarks' list, so a new
    method joins them by registering."""
    from evalsuite.registry import METHODS, get, names

    return [name for name in names(METHODS) if not get(METHODS, name).needs_labels]
