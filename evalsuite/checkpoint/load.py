"""``load_backbone(path)``: file -> detected format -> arch -> strictly loaded backbone.

Loading never uses ``strict=False`` quietly: a backbone key missing from the checkpoint, a key
the arch does not have, or a shape mismatch is an error naming the keys (the guard of
SimSiam's ``main_lincls.py``, made a hard failure). ``num_batches_tracked`` buffers are the one
exception: several layouts (detectron2, VISSL) do not store them and they do not affect features.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from evalsuite.archs import build_backbone
from evalsuite.checkpoint.io import read_checkpoint, sha256_file
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import ARCHS, FORMATS, load_builtins, names

RANDOM = "random"
_OPTIONAL = "num_batches_tracked"


@dataclass
class KeyReport:
    """How a converted state dict lines up with an arch's parameters and buffers."""

    matched: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def problem(self) -> str:
        parts = []
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                parts.append(f"{len(keys)} {label} key(s) such as {', '.join(keys[:3])}")
        if self.mismatched:
            k, got, want = self.mismatched[0]
            parts.append(f"{len(self.mismatched)} shape mismatch(es) such as {k} {list(got)} vs {list(want)}")
        return "; ".join(parts)


@dataclass
class LoadedCheckpoint:
    """What ``evalsuite inspect`` prints and what every result row records."""

    path: str
    sha256: str
    format: str
    arch: str
    meta: dict
    report: KeyReport
    state_dict: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)

    def summary(self) -> dict:
        return {
            "path": self.path, "sha256": self.sha256, "format": self.format, "arch": self.arch,
            "matched": self.report.matched, "missing": len(self.report.missing),
            "unexpected": len(self.report.unexpected), "shape_mismatched": len(self.report.mismatched),
            "meta": self.meta,
        }


def compare_keys(state_dict: dict[str, torch.Tensor], model: nn.Module) -> KeyReport:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    report = KeyReport()
    for key, shape in expected.items():
        if key not in state_dict:
            if not key.endswith(_OPTIONAL):
                report.missing.append(key)
        elif tuple(state_dict[key].shape) != shape:
            report.mismatched.append((key, tuple(state_dict[key].shape), shape))
        else:
            report.matched += 1
    report.unexpected = [k for k in state_dict if k not in expected]
    return report


def detect_format(obj: dict, path: str):
    """The one registered format that recognises ``obj``'s layout."""
    load_builtins()
    hits = [fmt for fmt in FORMATS.module_dict.values() if fmt.detect(obj)]
    if len(hits) == 1:
        return hits[0]
    top = ", ".join(list(obj)[:6])
    if not hits:
        raise EvalsuiteError(
            f"checkpoint {path!r} matches no known layout (top-level keys: {top}); "
            f"known formats are: {', '.join(names(FORMATS))}"
        )
    raise EvalsuiteError(f"checkpoint {path!r} matches several formats ({', '.join(f.name for f in hits)}); this is a bug in their detect()")


@functools.lru_cache(maxsize=None)
def _signature(arch: str) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in build_backbone(arch).state_dict().items() if not k.endswith(_OPTIONAL)}


def infer_arch(state_dict: dict[str, torch.Tensor], hint: str | None = None) -> str | None:
    """The registered arch whose keys and shapes ``state_dict`` matches exactly (the hint first)."""
    got = {k: tuple(v.shape) for k, v in state_dict.items() if not k.endswith(_OPTIONAL)}
    candidates = names(ARCHS)
    if hint in candidates:
        candidates.remove(hint)
        candidates.insert(0, hint)
    for arch in candidates:
        if _signature(arch) == got:
            return arch
    return None


def inspect_checkpoint(path: str | Path, arch: str | None = None, trust: bool = False) -> LoadedCheckpoint:
    """Read, detect and compare keys without failing on a mismatch (``evalsuite inspect``)."""
    path = str(path)
    obj = read_checkpoint(path, trust)
    fmt = detect_format(obj, path)
    state_dict, meta = fmt.convert(obj)
    if not state_dict:
        raise EvalsuiteError(f"checkpoint {path!r} looks like {fmt.name} but holds no backbone weights")
    arch = arch or meta.get("arch") or infer_arch(state_dict, meta.get("arch_hint"))
    if arch is None:
        raise EvalsuiteError(
            f"checkpoint {path!r} ({fmt.name}) matches no registered arch exactly; pass --arch with one of "
            f"{', '.join(names(ARCHS))} or pkg.module:callable"
        )
    report = compare_keys(state_dict, build_backbone(arch))
    return LoadedCheckpoint(path, sha256_file(path), fmt.name, arch, meta, report, state_dict)


def load_backbone(path: str | Path, arch: str | None = None, trust: bool = False, seed: int = 0) -> tuple[nn.Module, LoadedCheckpoint]:
    """Return the backbone with the checkpoint's weights, or random init for ``path='random'``."""
    if str(path) == RANDOM:
        if arch is None:
            raise EvalsuiteError("checkpoint 'random' needs --arch to say which network to initialise")
        torch.manual_seed(seed)
        model = build_backbone(arch)
        info = LoadedCheckpoint(RANDOM, f"random-seed{seed}", RANDOM, arch, {"method": "random init"}, KeyReport())
        return model, info
    info = inspect_checkpoint(path, arch, trust)
    if not info.report.ok:
        raise EvalsuiteError(f"checkpoint {info.path!r} does not fit arch {info.arch!r}: {info.report.problem()}")
    model = build_backbone(info.arch)
    model.load_state_dict(info.state_dict, strict=False)  # strictness checked above, bar num_batches_tracked
    info.state_dict = {}
    return model, info
