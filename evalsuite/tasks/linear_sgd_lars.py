"""LARS, layer-wise adaptive rate scaling (You et al. 2017, 'Large Batch Training of Convolutional
Networks', Alg. 1), as SimSiam's linear evaluation uses it (Chen & He 2021, App. A).

For each weight matrix the update g + wd * w is rescaled by the trust ratio
eta * ||w|| / ||g + wd * w|| before momentum; 1-d parameters (biases) are neither rescaled nor
decayed.
"""

from __future__ import annotations

import torch


class LARS(torch.optim.Optimizer):
    """Args:
        lr, momentum, weight_decay: as for SGD (heavy-ball momentum).
        eta: trust coefficient (You et al. 2017; SimSiam: 0.001).
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = 0.001) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if p.ndim > 1:
                    update = update.add(p, alpha=group["weight_decay"])
                    w_norm, u_norm = p.norm(), update.norm()
                    ratio = torch.where((w_norm > 0) & (u_norm > 0), group["eta"] * w_norm / u_norm,
                                        torch.ones_like(w_norm))
                    update = update.mul(ratio)
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.mul_(group["momentum"]).add_(update)
                p.add_(buf, alpha=-group["lr"])
        return loss
