"""SimSiam (Chen & He 2021, 'Exploring Simple Siamese Representation Learning', arXiv:2011.10566).

    z1, z2 = f(x1), f(x2)              # encoder = backbone + projection MLP, NxC
    p1, p2 = h(z1), h(z2)              # predictor MLP, NxC
    L = D(p1, stopgrad(z2)) / 2 + D(p2, stopgrad(z1)) / 2, D = negative cosine (Eq. 1-2)

Projection MLP: 3 layers, BN on every layer, no ReLU and a BN without affine on the output
(Sec. 4.2; the CIFAR experiments use 2 layers, App. D). Predictor: 2 layers, hidden = dim / 4
(Sec. 4.2). The predictor keeps a constant lr while the rest decays (Sec. 4.4, 'fixed lr for h').
``stop_gradient=False`` is the collapse ablation of Sec. 4.1 / Fig. 2.
"""

from __future__ import annotations

import torch

from evalsuite.pretrain.base import PretrainModel
from evalsuite.pretrain.heads import mlp
from evalsuite.pretrain.losses import collapse_std, negative_cosine
from evalsuite.registry import METHODS


@METHODS.register_module("simsiam")
class SimSiam(PretrainModel):
    """Args:
        dim: projection and prediction size C (2048, Sec. 4.2).
        proj_layers: projection MLP depth (3 on ImageNet, 2 on CIFAR, App. D).
        pred_hidden: predictor bottleneck (dim / 4 = 512, Sec. 4.2).
        stop_gradient: False reproduces the collapse of Sec. 4.1.
        fix_predictor_lr: keep the predictor's lr constant (Sec. 4.4).
    """

    def __init__(self, arch: str, views: list[dict] | None = None, arch_options: dict | None = None,
                 dim: int = 2048, proj_layers: int = 3,
                 pred_hidden: int = 512, stop_gradient: bool = True, fix_predictor_lr: bool = True) -> None:
        super().__init__(arch, views, arch_options)
        width = self.backbone.num_features
        self.projector = mlp(width, [dim] * proj_layers, last_bn="no_affine")
        self.predictor = mlp(dim, [pred_hidden, dim], last_bn="none")
        self.stop_gradient = stop_gradient
        self.fixed_lr_modules = ("predictor",) if fix_predictor_lr else ()

    def loss(self, views: list[torch.Tensor], labels=None) -> dict[str, torch.Tensor]:
        x1, x2 = views
        z1 = self.projector(self.backbone(x1))  # NxC
        z2 = self.projector(self.backbone(x2))  # NxC
        p1, p2 = self.predictor(z1), self.predictor(z2)  # NxC
        if self.stop_gradient:
            z1, z2 = z1.detach(), z2.detach()
        loss = negative_cosine(p1, z2) / 2 + negative_cosine(p2, z1) / 2
        return {"loss": loss, "std": collapse_std(z1)}
