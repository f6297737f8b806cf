"""Build a backbone by registered name or by ``pkg.module:callable``."""

from __future__ import annotations

import importlib
import inspect

from torch import nn

from evalsuite.archs.stem import keeps_small_input
from evalsuite.archs.vit import TIMM_PREFIX, build_vit
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import ARCHS, get


def build_backbone(name: str, **options) -> nn.Module:
    """Return a randomly initialised backbone with ``num_features`` and ``small_input`` set.

    ``options`` are the arch's own construction options (``zero_init_residual`` for ResNets);
    an option the arch does not take is an error naming it.

    ``name`` is a registered arch (``evalsuite list archs``), ``timm:NAME`` or ``pkg.module:callable``: a
    callable returning either a feature extractor whose forward gives (N, D), or a classifier
    whose final ``nn.Linear`` (``fc``, ``head`` or ``classifier``) is then dropped. A feature
    extractor that does not declare ``num_features`` gets ``num_features = None``: the size is
    learned from the first batch (``evalsuite.imaging.forward_batches``), and a declared size is
    checked against it there.
    """
    model = build_vit(name)  # timm:NAME, and ViT names at any resolution (vit_small_patch14_ls_518)
    if model is not None and name.startswith(TIMM_PREFIX):
        mark_small_input(model)  # any timm model: a CIFAR-style stem is found by looking at it
    if model is not None and options:
        raise EvalsuiteError(f"arch {name!r} has no option {sorted(options)[0]!r}; it takes: no options")
    if model is None and ":" in name:
        return _build_custom(name, options)
    if model is None:
        factory = get(ARCHS, name)
        unknown = sorted(set(options) - set(inspect.signature(factory).parameters))
        if unknown:
            raise EvalsuiteError(f"arch {name!r} has no option {unknown[0]!r}; it takes: "
                                 f"{', '.join(inspect.signature(factory).parameters) or 'no options'}")
        model = factory(**options)
    model.arch_name = name
    return model


def _build_custom(spec: str, options: dict) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise EvalsuiteError(
            f"cannot import arch {spec!r} ({exc}); give a registered arch or pkg.module:callable"
        ) from exc
    model = factory(**options)
    if not isinstance(model, nn.Module):
        raise EvalsuiteError(f"arch {spec!r} returned {type(model).__name__}, not an nn.Module")
    model = strip_classifier(model)
    model.arch_name = spec
    mark_small_input(model)
    return model


def mark_small_input(model: nn.Module) -> nn.Module:
    """Set ``small_input`` on a user's or timm's module: as it declares, else by its stem
    (``evalsuite/archs/stem.py``); ``small_input_from`` says which, for the result row."""
    if isinstance(getattr(model, "small_input", None), bool):
        model.small_input_from = getattr(model, "small_input_from", "arch")
    else:
        model.small_input = keeps_small_input(model)
        model.small_input_from = "stem"
    return model


def strip_classifier(model: nn.Module) -> nn.Module:
    """Replace a final classifier layer by ``Identity`` and record ``num_features`` (None when the
    model neither declares it nor ends in a classifier: learned from the first batch)."""
    for attr in ("fc", "head", "classifier"):
        layer = getattr(model, attr, None)
        if isinstance(layer, nn.Linear):
            model.num_features = layer.in_features
            setattr(model, attr, nn.Identity())
            return model
    if not hasattr(model, "num_features"):
        model.num_features = None
    return model
