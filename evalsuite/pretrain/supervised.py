"""Supervised baseline: cross-entropy on labels with a linear classifier on the backbone.

The same trainer and augmentation machinery as the SSL methods (one view, crop + flip), so the
demo can compare an SSL backbone with a label-trained one of the same arch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evalsuite.pretrain.base import PretrainModel
from evalsuite.pretrain.losses import collapse_std
from evalsuite.registry import METHODS


@METHODS.register_module("supervised")
class Supervised(PretrainModel):
    """Args:
        num_classes: classifier outputs.
        label_smoothing: cross-entropy label smoothing (0 = plain cross-entropy).
    """

    num_views = 1
    needs_labels = True

    def __init__(self, arch: str, views: list[dict] | None = None, arch_options: dict | None = None,
                 num_classes: int = 10,
                 label_smoothing: float = 0.0) -> None:
        super().__init__(arch, views or [dict(jitter_p=0.0, gray_p=0.0)], arch_options)
        self.classifier = nn.Linear(self.backbone.num_features, num_classes)
        self.label_smoothing = label_smoothing

    def loss(self, views: list[torch.Tensor], labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if labels is None:
            raise ValueError("the supervised method needs labels in every batch")
        h = self.backbone(views[0])  # (N, D)
        loss = F.cross_entropy(self.classifier(h), labels, label_smoothing=self.label_smoothing)
        return {"loss": loss, "std": collapse_std(h)}
