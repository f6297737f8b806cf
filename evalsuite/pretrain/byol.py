"""BYOL (Grill et al. 2020, 'Bootstrap Your Own Latent', arXiv:2006.07733).

    q = g_theta(z_theta(x1)), z' = z_xi(x2)           # online predictor output, target projection
    L = 2 - 2 cos(q, sg(z')), symmetrised by swapping the views (Eq. 2)
    xi <- tau xi + (1 - tau) theta,  tau = 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2   (Sec. 3.2, App. A)

Projector and predictor: Linear(4096) -> BN -> ReLU -> Linear(256), no BN on the output
(Sec. 3.3). The target network (backbone + projector) gets no gradient; it moves only by the
EMA after every optimizer step, with k the global step and K the run's total steps.
"""

from __future__ import annotations

import copy
import math

import torch
from mmengine.logging import MessageHub

from evalsuite.pretrain.base import PretrainModel
from evalsuite.pretrain.heads import mlp
from evalsuite.pretrain.losses import byol_regression, collapse_std
from evalsuite.registry import METHODS


def ema_momentum(step: int, total_steps: int, tau_base: float) -> float:
    """tau at step k of K (Grill et al. 2020, Sec. 3.2): tau_base at k = 0, rising to 1 at k = K."""
    return 1 - (1 - tau_base) * (math.cos(math.pi * step / max(total_steps, 1)) + 1) / 2


@METHODS.register_module("byol")
class BYOL(PretrainModel):
    """Args:
        hidden, dim: MLP hidden and output sizes (4096, 256; Sec. 3.3).
        tau_base: base EMA rate (0.996, Sec. 3.3).
        total_steps: K when run outside the trainer (the trainer reads it from the run).
    """

    def __init__(self, arch: str, views: list[dict] | None = None, arch_options: dict | None = None,
                 hidden: int = 4096, dim: int = 256,
                 tau_base: float = 0.996, total_steps: int = 0) -> None:
        super().__init__(arch, views, arch_options)
        self.projector = mlp(self.backbone.num_features, [hidden, dim], last_bn="none")
        self.predictor = mlp(dim, [hidden, dim], last_bn="none")
        self.target_backbone = copy.deepcopy(self.backbone).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.tau_base, self.total_steps = tau_base, total_steps
        self._step = 0  # fallback counter outside the Runner

    def loss(self, views: list[torch.Tensor], labels=None) -> dict[str, torch.Tensor]:
        x1, x2 = views
        z1 = self.projector(self.backbone(x1))  # (N, dim) online projections
        z2 = self.projector(self.backbone(x2))
        q1, q2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            t1 = self.target_projector(self.target_backbone(x1))  # (N, dim) target projections
            t2 = self.target_projector(self.target_backbone(x2))
        loss = byol_regression(q1, t2) + byol_regression(q2, t1)
        return {"loss": loss, "std": collapse_std(z1)}

    def _progress(self) -> tuple[int, int]:
        hub = MessageHub.get_current_instance()
        step, total = hub.get_info("iter"), hub.get_info("max_iters")
        if step is None or total is None or self.total_steps:
            return self._step, self.total_steps
        return step, total

    @torch.no_grad()
    def after_update(self) -> None:
        """Move the target network towards the online one by the EMA at this step's tau."""
        step, total = self._progress()
        tau = ema_momentum(step, total, self.tau_base)
        online = [*self.backbone.parameters(), *self.projector.parameters()]
        target = [*self.target_backbone.parameters(), *self.target_projector.parameters()]
        torch._foreach_lerp_(target, online, 1 - tau)  # xi + (1 - tau)(theta - xi)
        for t, o in zip(self.target_backbone.buffers(), self.backbone.buffers()):
            t.copy_(o)  # BN running statistics follow the online network
        self._step += 1
