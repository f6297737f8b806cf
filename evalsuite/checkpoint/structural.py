"""Find the backbone inside any checkpoint by structure, not by a list of known layouts.

A training checkpoint is a tree of containers (``state_dict``, ``model``, ``teacher``,
``classy_state_dict.base_model.model.trunk`` ...) whose tensor dicts name the backbone's weights
under some wrapper prefix (``module.``, ``backbone.``, ``module.encoder_q.``,
``online_encoder.net.`` ...). ``find_backbone`` walks every container, tries every prefix at
which the arch's own key names appear, and keeps the candidate that holds every backbone key
with the right shape; whatever else the container holds (heads, the momentum copy, a queue) is
dropped and named. Where two candidates match fully, the field's convention decides
(``evalsuite.checkpoint.conventions``) and ``--key`` overrides it.

The interface is deliberately small: ``expected`` is the arch's ``{key: shape}``, and a
``Candidate`` is a state dict in the arch's own naming plus where it was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from evalsuite.checkpoint.conventions import by_convention
from evalsuite.checkpoint.io import as_tensor_dict
from evalsuite.errors import EvalsuiteError

#: ``num_batches_tracked`` buffers may be absent: several layouts (detectron2, VISSL) do not store
#: them and they do not affect features.
OPTIONAL_SUFFIX = "num_batches_tracked"

_MAX_DEPTH = 8
_MAX_NODES = 20_000


@dataclass
class KeyReport:
    """How a candidate state dict lines up with an arch's parameters and buffers."""

    matched: int = 0
    total: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # extra keys inside the arch's own modules
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    bad_dtype: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.bad_dtype)

    @property
    def fits(self) -> bool:
        """Every backbone key present with its shape (dtype is judged after the choice)."""
        return not (self.missing or self.unexpected or self.mismatched)

    def problem(self) -> str:
        parts = []
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                parts.append(f"{len(keys)} {label} key(s) such as {', '.join(keys[:3])}")
        if self.mismatched:
            k, got, want = self.mismatched[0]
            parts.append(f"{len(self.mismatched)} shape mismatch(es) such as {k} {list(got)} vs {list(want)}")
        if self.bad_dtype:
            k, dtype = self.bad_dtype[0]
            parts.append(f"{len(self.bad_dtype)} tensor(s) of unusable type such as {k} ({dtype})")
        return "; ".join(parts)


@dataclass
class Candidate:
    """A tensor dict found at ``where`` (containers joined by '.'), read under ``prefix``."""

    where: str
    prefix: str
    tensors: dict[str, torch.Tensor]
    dropped: list[str]
    report: KeyReport

    @property
    def location(self) -> str:
        """What ``--key`` names: containers, then the prefix without its final dot."""
        return ".".join(p for p in (self.where, self.prefix.rstrip(".")) if p)

    def path(self) -> str:
        """How it was found, e.g. ``state_dict -> strip 'module.' -> 120/120 backbone tensors``."""
        steps = [self.where or "top level"]
        if self.prefix:
            steps.append(f"strip {self.prefix!r}")
        steps.append(f"{self.report.matched}/{self.report.total} backbone tensors")
        text = " -> ".join(steps)
        return text + (f"; dropped: {group_keys(self.dropped, self.prefix)}" if self.dropped else "")


def group_keys(keys: list[str], prefix: str = "", limit: int = 8) -> str:
    """``fc.weight, fc.bias`` or ``module.encoder_k.* (124)``: dropped keys, grouped by the first
    module in which they part from the loaded prefix."""
    base = prefix.rstrip(".").split(".") if prefix else []
    groups: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split(".")
        common = 0
        while common < min(len(base), len(parts) - 1) and parts[common] == base[common]:
            common += 1
        groups.setdefault(".".join(parts[:common + 1]), []).append(key)
    items = [", ".join(v) if len(v) <= 2 else f"{k}.* ({len(v)})" for k, v in groups.items()]
    more = f", and {len(items) - limit} more group(s)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def tensor_dicts(obj, where: str = "", depth: int = 0, seen: list | None = None) -> list[tuple[str, dict]]:
    """Every dict under ``obj`` (through dicts, lists and tuples) that holds tensors by string key."""
    seen = [0] if seen is None else seen
    found = []
    if depth > _MAX_DEPTH or seen[0] > _MAX_NODES:
        return found
    seen[0] += 1
    if isinstance(obj, dict):
        tensors = as_tensor_dict(obj)
        if tensors:
            found.append((where, tensors))
        children = [(str(k), v) for k, v in obj.items() if isinstance(v, (dict, list, tuple))]
    elif isinstance(obj, (list, tuple)):
        children = [(str(i), v) for i, v in enumerate(obj) if isinstance(v, (dict, list, tuple))]
    else:
        children = []
    for name, child in children:
        found += tensor_dicts(child, f"{where}.{name}" if where else name, depth + 1, seen)
    return found


def prefixes(keys, expected: dict[str, tuple]) -> list[str]:
    """Prefixes ``P`` such that ``P + k`` is a key for backbone keys ``k``, keeping those under which
    at least half as many backbone names appear as under the best one (inside a ResNet,
    ``layer1.0.`` + ``conv1.weight`` is a name too, but not a backbone)."""
    hits: dict[str, int] = {}
    for key in keys:
        if key in expected:
            hits[""] = hits.get("", 0) + 1
        for i, char in enumerate(key):
            if char == "." and key[i + 1:] in expected:
                hits[key[:i + 1]] = hits.get(key[:i + 1], 0) + 1
    most = max(hits.values(), default=0)
    return sorted((p for p, n in hits.items() if 2 * n >= most), key=lambda p: (p.count("."), p))


def shape_of(t: torch.Tensor) -> tuple:
    """``tuple(t.shape)``, or ``('nested',)`` for a nested tensor, which has no single shape."""
    try:
        return tuple(t.shape)
    except RuntimeError:  # a nested tensor has no single shape
        return ("nested",)


def compare(view: dict[str, torch.Tensor], expected: dict[str, tuple], modules: set[str] | None = None,
            total: int | None = None) -> tuple[KeyReport, list[str]]:
    """Key report of ``view`` against ``expected``, and the keys of ``view`` that are not backbone.

    A key the arch lacks is *unexpected* (an error: more blocks than the arch, so the wrong arch)
    when its first component is one of the arch's own ``modules``, and *dropped* (a head) otherwise.
    """
    if total is None:
        total = sum(not k.endswith(OPTIONAL_SUFFIX) for k in expected)
    report = KeyReport(total=total)
    for key, shape in expected.items():
        if key not in view:
            if not key.endswith(OPTIONAL_SUFFIX):
                report.missing.append(key)
        elif shape_of(view[key]) != shape:
            report.mismatched.append((key, shape_of(view[key]), shape))
        elif not key.endswith(OPTIONAL_SUFFIX):
            report.matched += 1
    modules = {k.split(".")[0] for k in expected} if modules is None else modules
    dropped = []
    for key in view:
        if key not in expected:
            (report.unexpected if key.split(".")[0] in modules and "." in key else dropped).append(key)
    return report, dropped


def candidates(sources: list[tuple[str, dict]], expected: dict[str, tuple]) -> list[Candidate]:
    """One candidate per (tensor dict, prefix at which backbone keys appear)."""
    out = []
    modules = {k.split(".")[0] for k in expected}
    total = sum(not k.endswith(OPTIONAL_SUFFIX) for k in expected)
    for where, tensors in sources:
        for prefix in prefixes(tensors, expected):
            view = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            report, dropped = compare(view, expected, modules, total)
            outside = [k for k in tensors if not k.startswith(prefix)]
            out.append(Candidate(where, prefix, view, outside + [prefix + k for k in dropped], report))
    return out


def named_by(candidate: Candidate, key: str) -> bool:
    """``--key`` names this candidate: its location, or a container or prefix above it."""
    return any(text == key or text.startswith(key + ".") for text in (candidate.location, candidate.where))


def select(cands: list[Candidate], key: str | None, path: str) -> tuple[Candidate | None, list[str]]:
    """The candidate to load (None when none fits), and the conventions that chose it."""
    if key:
        cands = [c for c in cands if named_by(c, key)]
    full = [c for c in cands if c.report.fits]
    if not full:
        return None, []
    survivors, used = by_convention(full)
    if len(survivors) > 1:
        raise EvalsuiteError(
            f"checkpoint {path!r} holds {len(survivors)} complete backbones "
            f"({', '.join(c.location or 'top level' for c in survivors)}) and no convention decides; "
            "pick one with --key"
        )
    return survivors[0], used


def best(cands: list[Candidate]) -> Candidate | None:
    """The candidate closest to fitting, for the error message."""
    return max(cands, key=lambda c: (c.report.matched, -len(c.report.missing)), default=None)
