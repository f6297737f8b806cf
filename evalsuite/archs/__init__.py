"""Backbone architectures: ``build_backbone(name)`` -> feature extractor (N, 3, H, W) -> (N, D)."""

from evalsuite.archs import resnet  # noqa: F401  (registers the ResNets)
from evalsuite.archs.build import build_backbone, strip_classifier

__all__ = ["build_backbone", "strip_classifier"]
