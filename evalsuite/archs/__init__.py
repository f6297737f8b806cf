"""Backbone architectures: ``build_backbone(name)`` -> feature extractor (N, 3, H, W) -> (N, D)."""

from evalsuite.archs.build import build_backbone, strip_classifier
from evalsuite.registry import import_folder

import_folder(__name__, __path__, skip=frozenset({"build", "stem"}))  # each arch family's file registers itself

__all__ = ["build_backbone", "strip_classifier"]
