"""Checkpoints in, backbones out: ``load_backbone(path)`` -> (module, LoadedCheckpoint)."""

from evalsuite.checkpoint.formats.evalsuite_native import save_backbone
from evalsuite.checkpoint.load import LoadedCheckpoint, inspect_checkpoint, load_backbone

__all__ = ["LoadedCheckpoint", "inspect_checkpoint", "load_backbone", "save_backbone"]
