"""Evaluation tasks, one module each; importing this package registers every one of them."""

from evalsuite.registry import import_folder

import_folder(__name__, __path__, skip=frozenset({"base", "metrics", "lbfgs", "resume", "attentive_heads", "protocol"}))
