"""Evaluation tasks, one module each; importing this package registers every one of them."""

import importlib
import pkgutil

_SKIP = {"base", "metrics", "lbfgs", "resume"}

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _SKIP and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
