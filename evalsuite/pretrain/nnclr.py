"""NNCLR (Dwibedi et al. 2021, 'With a Little Help from My Friends', arXiv:2104.14548).

    z = projector(f(x)), p = predictor(z); NN(z, Q) = the queue entry most cosine-similar to z
    L = InfoNCE(NN(z1, Q), p2) / 2 + InfoNCE(NN(z2, Q), p1) / 2, tau = 0.1 (Eq. 2-3, Sec. 3)
    Q <- FIFO of the normalised projections z1 of past batches (support set, Sec. 3.2)

Projector [2048, 2048, 256] with BN on every layer and predictor [256, 4096, 256] (Sec. 4.1);
queue 98,304 on ImageNet (Sec. 4.3), smaller at CIFAR scale (the recipe sets it). Until the queue
holds anything a view is its own neighbour; the nearest neighbour gets no gradient (it is a
stored vector), so gradients reach the encoder through the other view's prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from evalsuite.pretrain.base import PretrainModel
from evalsuite.pretrain.dist import gather_no_grad
from evalsuite.pretrain.heads import mlp
from evalsuite.pretrain.losses import collapse_std, info_nce
from evalsuite.registry import METHODS
from evalsuite.rules import POSITIVE


@METHODS.register_module("nnclr")
class NNCLR(PretrainModel):
    """Args:
        proj_dims, pred_dims: head sizes ([2048, 2048, 256], [4096, 256]; Sec. 4.1).
        queue_size: support-set size (98,304 on ImageNet, Sec. 4.3).
        temperature: tau (0.1, Sec. 4.1).
    """

    #: Value rules of the constructor's arguments, checked on ``--cfg-options method.KEY=...`` (``evalsuite.schema``).
    ARG_RULES = {"temperature": (POSITIVE,)}

    def __init__(self, arch: str, views: list[dict] | None = None, arch_options: dict | None = None,
                 proj_dims: tuple = (2048, 2048, 256),
                 pred_dims: tuple = (4096, 256), queue_size: int = 98304, temperature: float = 0.1) -> None:
        super().__init__(arch, views, arch_options)
        self.projector = mlp(self.backbone.num_features, list(proj_dims), last_bn="affine")
        self.predictor = mlp(proj_dims[-1], list(pred_dims), last_bn="none")
        self.temperature = temperature
        self.register_buffer("queue", torch.zeros(queue_size, proj_dims[-1]))  # (Q, D), rows L2-normalised
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def nearest_neighbour(self, z: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, D): each row's cosine nearest neighbour among the filled queue rows."""
        z = F.normalize(z.float(), dim=1)
        sims = z @ self.queue.T  # (N, Q)
        filled = torch.arange(len(self.queue), device=z.device) < self.queue_filled
        sims = sims.masked_fill(~filled, float("-inf"))
        nn = self.queue[sims.argmax(dim=1)]
        return torch.where(self.queue_filled > 0, nn, z)  # empty queue: a view is its own neighbour

    @torch.no_grad()
    def enqueue(self, z: torch.Tensor) -> None:
        """Write the normalised global batch (W*N, D) at the pointer, FIFO, without a host sync."""
        z = F.normalize(gather_no_grad(z.float()), dim=1)
        q = len(self.queue)
        z = z[-q:]
        idx = (self.queue_ptr + torch.arange(len(z), device=z.device)) % q
        self.queue.index_copy_(0, idx, z)
        self.queue_ptr.copy_((self.queue_ptr + len(z)) % q)
        self.queue_filled.copy_(torch.clamp(self.queue_filled + len(z), max=q))

    def loss(self, views: list[torch.Tensor], labels=None) -> dict[str, torch.Tensor]:
        x1, x2 = views
        z1 = self.projector(self.backbone(x1))  # (N, D)
        z2 = self.projector(self.backbone(x2))
        p1, p2 = self.predictor(z1), self.predictor(z2)
        nn1, nn2 = self.nearest_neighbour(z1), self.nearest_neighbour(z2)
        loss = info_nce(nn1, p2, self.temperature) / 2 + info_nce(nn2, p1, self.temperature) / 2
        self.enqueue(z1.detach())
        return {"loss": loss, "std": collapse_std(z1)}
