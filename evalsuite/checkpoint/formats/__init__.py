"""Checkpoint format adapters, one file each; importing this package registers them all."""

from evalsuite.registry import import_folder

import_folder(__name__, __path__)
