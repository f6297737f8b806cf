"""Synchronised BatchNorm as a recipe option (``sync_bn=True``), on GPUs and on CPU (gloo).

torch's ``SyncBatchNorm`` only runs on accelerators, so on CPU the statistics are all-reduced
here with autograd (``dist.all_reduce_with_grad``); that is what lets the two-process
CPU test match one process on the same global batch exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evalsuite.pretrain.dist import all_reduce_with_grad, world


class GlobalBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the global batch of all processes, any input rank (N, C, ...)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, size = world()
        if not self.training or size == 1:
            return _plain_bn(self, x)
        dims = [0] + list(range(2, x.dim()))
        count = torch.tensor(float(x.numel() // x.shape[1]), device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), count.view(1)])  # (2C + 1,)
        stats = all_reduce_with_grad(stats)
        c, n = x.shape[1], stats[-1]
        mean, var = stats[:c] / n, stats[c:2 * c] / n - (stats[:c] / n) ** 2
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    def _check_input_dim(self, x: torch.Tensor) -> None:
        pass


def _plain_bn(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    use_batch = bn.training or bn.running_mean is None
    if bn.training and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, use_batch, bn.momentum, bn.eps)


def convert_sync_bn(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm by torch's ``SyncBatchNorm`` (CUDA) or ``GlobalBatchNorm`` (CPU)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            new = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_sync_bn(child, device)
    return module
