"""Which registered arch a checkpoint's tensors fit: each arch's key and shape signature, the order
archs are tried in, and the search over every tensor dict for the first arch with a fitting candidate.

The order is ``--arch`` alone, else the file's own arch name, the arch families' guesses from
weight shapes (``evalsuite.registry.ARCH_GUESSERS``), then every registered arch whose first tensor
is in the file; ``evalsuite.checkpoint.load`` then loads the winner strictly.
"""

from __future__ import annotations

import functools

import torch

from evalsuite.archs import build_backbone
from evalsuite.archs.vit import TIMM_PREFIX
from evalsuite.checkpoint.structural import Candidate, best, candidates, named_by, select, shape_of
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import ARCH_GUESSERS, ARCHS, names


@functools.lru_cache(maxsize=None)
def arch_tensors(arch: str) -> tuple[dict[str, tuple], frozenset[str]]:
    """The arch's ``{key: shape}`` and its floating-point keys, built on the meta device when the
    arch allows it (no memory for a ViT-L just to read its names)."""
    try:
        with torch.device("meta"):
            state = build_backbone(arch).state_dict()
    except EvalsuiteError:
        raise
    except Exception:  # a user's callable that cannot be built on the meta device
        state = build_backbone(arch).state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    return shapes, frozenset(k for k, v in state.items() if v.is_floating_point())


def signature(arch: str) -> dict[str, tuple]:
    """``{key: shape}`` of an arch's state dict: what a checkpoint candidate is compared with."""
    return arch_tensors(arch)[0]


def arch_order(arch: str | None, hint: str | None, sources: list[tuple[str, dict]]) -> list[str]:
    """``--arch`` alone when given; else the file's own arch name, the arch families' guesses from
    weight shapes (``ARCH_GUESSERS``), then every registered arch."""
    if arch:
        return [arch]
    registered = names(ARCHS)
    # a timm hub folder's config names its timm architecture (formats/timm_hub.py), tried first
    order = [hint] if hint in registered or str(hint).startswith(TIMM_PREFIX) else []
    for guess in ARCH_GUESSERS.module_dict.values():
        for _, tensors in sources:
            name = guess(tensors)
            if name and name not in order:
                order.append(name)
    rest = [a for a in registered if a not in order]
    anchored = [a for a in rest if _anchored(a, sources)]
    # Archs whose first tensor is not in the file at all are only tried when no other arch is.
    return order + (anchored or rest)


def _anchored(arch: str, sources: list[tuple[str, dict]]) -> bool:
    """The arch's first tensor (a ResNet's conv1.weight, a ViT's cls_token) is in some tensor dict
    with its shape: a cheap test before the full comparison."""
    key, shape = next(iter(signature(arch).items()))
    return any((k == key or k.endswith("." + key)) and shape_of(v) == shape
               for _, tensors in sources for k, v in tensors.items())


def search(sources, archs: list[str], key: str | None, path: str) -> tuple[str, Candidate | None, list[str], Candidate | None, str]:
    """First arch with a fitting candidate: (arch, chosen, conventions used, closest, closest's arch)."""
    closest, closest_arch, locations = None, archs[0], set()
    for arch in archs:
        cands = candidates(sources, signature(arch))
        locations |= {c.location for c in cands}
        chosen, used = select(cands, key, path)
        if chosen is not None:
            return arch, chosen, used, None, arch
        near = best([c for c in cands if named_by(c, key)] if key else cands)
        if near is not None and (closest is None or near.report.matched / max(near.report.total, 1)
                                 > closest.report.matched / max(closest.report.total, 1)):
            closest, closest_arch = near, arch
    if key and not any(loc == key or loc.startswith(key + ".") for loc in locations):
        valid = ", ".join(sorted(locations)) or "(none: no tensor dict holds keys of the arch)"
        raise EvalsuiteError(f"--key {key!r} names nothing in checkpoint {path!r}; candidates are: {valid}")
    return archs[0], None, [], closest, closest_arch


def infer_arch(state_dict: dict[str, torch.Tensor], hint: str | None = None) -> str | None:
    """The first arch (the hint, the guessers' answers, then every registered one) that a state
    dict, under any wrapper prefix, fits completely."""
    sources = [("", state_dict)]
    found, chosen, *_ = search(sources, arch_order(None, hint, sources), None, "<state dict>")
    return found if chosen else None
