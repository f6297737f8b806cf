"""Extension points of evalsuite, each an mmengine ``Registry``.

Adding an arch, checkpoint format, dataset, task or pre-training method means adding one
small file that registers itself here, plus one test. ``get(registry, name)`` turns an
unknown name into an error listing every registered one.
"""

from __future__ import annotations

import importlib
import pkgutil

from mmengine.registry import Registry

from evalsuite.errors import one_of

#: Contract: a zero-argument factory returning an ``nn.Module`` whose forward maps
#: (N, 3, H, W) float images to (N, D) features and that has ``num_features == D`` and
#: ``small_input`` (True for 32 px stems). State-dict keys follow torchvision naming (ViTs: timm's,
#: with ``train_resolution`` and feature modes; ``evalsuite/archs/vit.py``), no classifier.
ARCHS = Registry("arch")

#: Contract: a function ``(tensors) -> arch name | None``, called with every tensor dict found in
#: a checkpoint (keys as stored, wrapper prefixes included), naming the arch of its family that
#: the weight shapes imply (a ViT's width, depth, patch size), or None. Only an ordering hint:
#: the loader still checks every key and shape of the answer.
ARCH_GUESSERS = Registry("arch guesser")

#: Contract: a function ``(obj) -> (tensors | None, meta) | None``, registered under the format's
#: name, given the loaded checkpoint dict: None when ``obj`` is not its layout (no false positives
#: on the others), else what it adds. Weights are found by structure
#: (``evalsuite.checkpoint.structural``): an adapter returns tensors only when the layout needs
#: renaming into the arch's naming (they are then searched like any other tensor dict, wrapper
#: prefixes and heads included), and returns the metadata the file carries.
FORMATS = Registry("checkpoint format")

#: Contract: a function ``(root, download) -> DatasetSpec`` (see ``evalsuite.datasets.base``); the
#: datasets of the transfer suite (``tasks/transfer.py``) are tagged ``transfer`` (``tags``).
DATASETS = Registry("dataset")

#: Contract: ``evalsuite.tasks.protocol.Task``: a frozen dataclass built from recipe keywords with
#: ``run(ctx) -> TaskOutput`` and optional hooks (``processes``, ``REPORT_ORDER``, ``SMOKE``,
#: ``data_step``); every field lands in the result row.
TASKS = Registry("task")

#: Contract: an mmengine ``BaseModel`` implementing one pre-training method end to end.
METHODS = Registry("method")

#: Contract: a zero-argument function returning an ``evalsuite.zoo.entry.ZooEntry`` (a published
#: checkpoint: URL and its source, published hash or none, layout, evalsuite arch, training
#: resolution, published figures with their protocols), registered under the entry's name, which
#: ``evalsuite eval zoo:NAME`` takes. Entries are data: no torch is imported to list them.
ZOO = Registry("zoo checkpoint")

# Modules whose import registers the built-in entries.
_BUILTINS = (
    "evalsuite.archs",
    "evalsuite.checkpoint.formats",
    "evalsuite.datasets",
    "evalsuite.tasks",
)
_OPTIONAL_BUILTINS = ("evalsuite.pretrain",)


def load_builtins() -> None:
    """Import every built-in module so its entries are registered."""
    for name in _BUILTINS:
        importlib.import_module(name)
    for name in _OPTIONAL_BUILTINS:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # an optional extra that is not installed
            if exc.name and exc.name.startswith("evalsuite"):
                raise


def import_folder(package: str, path, skip: frozenset[str] = frozenset()) -> None:
    """Import every module of a package folder, so that each file registers itself.

    A component is a file in its folder: adding one needs no edit to a hand-kept import
    list. Modules named in ``skip`` (helpers, not components) and ``_private`` ones are left out.
    """
    for info in pkgutil.iter_modules(path):
        if info.name not in skip and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def get(registry: Registry, name: str):
    """Return the object registered as ``name`` or fail listing the valid names."""
    load_builtins()
    obj = registry.get(name) if name in registry.module_dict else None
    if obj is None:
        raise one_of(registry.name, name, registry.module_dict.keys())
    return obj


def names(registry: Registry) -> list[str]:
    load_builtins()
    return sorted(registry.module_dict)


def tags(*labels: str):
    """Decorator (below ``register_module``) that tags an entry, e.g. a dataset of the transfer suite."""
    def mark(obj):
        obj.tags = labels
        return obj
    return mark


def tagged(registry: Registry, label: str) -> list[str]:
    """The names of the entries tagged ``label``, sorted."""
    return [n for n in names(registry) if label in getattr(registry.get(n), "tags", ())]
