"""LARS, layer-wise adaptive rate scaling (You et al. 2017, 'Large Batch Training of Convolutional
Networks', Alg. 1): the one implementation that pre-training (SimCLR, Chen et al. 2020, Sec. 2;
BYOL, Grill et al. 2020, App. C) and the linear probe (SimSiam, Chen & He 2021, App. A) share.

For an adapted parameter the update g + wd * w is rescaled by the trust ratio
r = eta * ||w|| / ||g + wd * w|| before momentum, so its step is lr * r * (g + wd * w): the norm of
the decayed update, as SimCLR's reference optimizer takes it (google-research/simclr,
lars_optimizer.py). You et al.'s Eq. 6, and solo-learn's and lightly's LARS, divide by
||g|| + wd * ||w|| instead (tests/test_lightly_oracle_pins.py pins the difference). Excluded
parameters (biases and BN, as both SSL papers do) take a plain momentum-SGD step without decay.

``clip_lr=True`` is the 'clip' mode of NVIDIA's LARC that the CIFAR recipes of the SSL libraries
use with eta = 0.02: the multiplier becomes min(r / lr, 1), so a layer's step is min(r, lr) x the
update, never more than plain SGD's. The trust ratio stays on the device (no host sync).
"""

from __future__ import annotations

import torch


class LARS(torch.optim.Optimizer):
    """Args:
        lr, momentum, weight_decay: as for SGD (heavy-ball momentum).
        eta: trust coefficient (You et al. 2017; SimSiam's probe: 0.001; CIFAR SSL recipes: 0.02).
        clip_lr: LARC's clip mode (see the module docstring).
    A param group's ``lars_exclude`` says whether its parameters skip adaptation and decay; when a
    group does not say, parameters with one dimension or fewer (biases, BN) are excluded.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = 0.001,
                 clip_lr: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, clip_lr=clip_lr,
                                      lars_exclude=None))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                excluded = group["lars_exclude"] if group["lars_exclude"] is not None else p.ndim <= 1
                update = p.grad if excluded else self._adapted(p, group)
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.mul_(group["momentum"]).add_(update)
                p.add_(buf, alpha=-group["lr"])
        return loss

    @staticmethod
    def _adapted(p: torch.Tensor, group: dict) -> torch.Tensor:
        update = p.grad.add(p, alpha=group["weight_decay"])
        w_norm, u_norm = p.norm(), update.norm()
        ratio = torch.where((w_norm > 0) & (u_norm > 0), group["eta"] * w_norm / u_norm, torch.ones_like(w_norm))
        if group["clip_lr"]:
            ratio = (ratio / group["lr"]).clamp(max=1.0) if group["lr"] > 0 else ratio
        return update.mul(ratio)
