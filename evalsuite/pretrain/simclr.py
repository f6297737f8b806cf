"""SimCLR (Chen et al. 2020, 'A Simple Framework for Contrastive Learning', arXiv:2002.05709).

    z_i = g(f(x_i)) for the 2N views; L = NT-Xent(z, tau) over the global batch (Eq. 1, Alg. 1)

Projection head g: Linear -> BN -> ReLU -> Linear(128) (Sec. 2, 'a MLP with one hidden layer';
BN as in the official implementation). Negatives come from every process, gathered with
gradients (Sec. 2, 'Training with large batch size', global BN via ``sync_bn``).
"""

from __future__ import annotations

import torch

from evalsuite.pretrain.base import PretrainModel
from evalsuite.pretrain.heads import mlp
from evalsuite.pretrain.losses import collapse_std, nt_xent
from evalsuite.registry import METHODS
from evalsuite.rules import POSITIVE


@METHODS.register_module("simclr")
class SimCLR(PretrainModel):
    """Args:
        hidden, dim: projection hidden (2048) and output (128) sizes (Sec. B.4).
        temperature: tau of NT-Xent (0.1 for large ImageNet batches, 0.5 at CIFAR scale, Sec. B.9).
    """

    #: Value rules of the constructor's arguments, checked on ``--cfg-options method.KEY=...`` (``evalsuite.schema``).
    ARG_RULES = {"temperature": (POSITIVE,)}

    def __init__(self, arch: str, views: list[dict] | None = None, arch_options: dict | None = None,
                 hidden: int = 2048, dim: int = 128,
                 temperature: float = 0.1) -> None:
        super().__init__(arch, views, arch_options)
        self.projector = mlp(self.backbone.num_features, [hidden, dim], last_bn="none")
        self.temperature = temperature

    def loss(self, views: list[torch.Tensor], labels=None) -> dict[str, torch.Tensor]:
        x1, x2 = views
        z1 = self.projector(self.backbone(x1))  # (N, dim)
        z2 = self.projector(self.backbone(x2))
        return {"loss": nt_xent(z1, z2, self.temperature), "std": collapse_std(z1)}
