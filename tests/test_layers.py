"""The import graph stands in layers: each module imports only from its own layer or below.

Datasets import nothing from extraction or tasks; pre-training borrows nothing from evaluation's
modules (both stand on the shared floor: ``imaging``, ``cache``, ``neighbours``); the only imports
that point up are the lazy API hook (``evalsuite.__getattr__``) and the CLI's command discovery.
Imports are read with ``ast`` (function-level ones included), so a lazy import is no way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evalsuite"

#: (module prefix, layer); the longest matching prefix wins. Pre-training and evaluation share layer 3
#: and may not import each other (``SIBLINGS``).
LAYERS = [
    ("evalsuite.errors", 0), ("evalsuite.atomic", 0), ("evalsuite.paths", 0), ("evalsuite.progress", 0),
    ("evalsuite.launch", 0), ("evalsuite.resources", 0), ("evalsuite.registry", 0), ("evalsuite.lars", 0),
    ("evalsuite.stats", 0), ("evalsuite.tabular", 0), ("evalsuite.rules", 0),
    ("evalsuite.preprocess", 1), ("evalsuite.datasets", 1), ("evalsuite.archs", 1), ("evalsuite.checkpoint", 1),
    ("evalsuite.imaging", 2), ("evalsuite.cache", 2), ("evalsuite.neighbours", 2),
    ("evalsuite.segmentation", 1),  # dense-label datasets, their transforms and mIoU: beside the datasets
    ("evalsuite.pretrain", 3), ("evalsuite.tasks", 3), ("evalsuite.detection", 3), ("evalsuite.features", 3), ("evalsuite.extraction", 3), ("evalsuite.tokens", 3),
    ("evalsuite.results", 4), ("evalsuite.schema", 4), ("evalsuite.runner", 4),
    ("evalsuite.zoo", 4), ("evalsuite.zoo.compare", 5),  # fetched and loaded below the runner; its table above
    ("evalsuite", 5),  # the rest: api, cli, commands, leaderboard, report, sweep, baselines, demo
]
EVALUATION = ("evalsuite.tasks", "evalsuite.detection", "evalsuite.features", "evalsuite.extraction", "evalsuite.tokens",
              "evalsuite.runner")
#: The upward imports the design wants: the lazy ``evalsuite.evaluate`` hook and ``results.versions``
#: reading the package's version.
ALLOWED_UP = {("evalsuite", "evalsuite.api"), ("evalsuite.results", "evalsuite")}


def layer(module: str) -> int:
    best = max((p for p, _ in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return dict(LAYERS)[best]


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(module: str, path: Path) -> set[str]:
    """Every evalsuite module ``module`` imports, at any depth of its code."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in ALL else base for a in node.names}
    return {m for m in found if m == "evalsuite" or m.startswith("evalsuite.")}


ALL = modules()
EDGES = [(m, target) for m, path in sorted(ALL.items()) for target in sorted(imports(m, path))]


def test_the_layer_map_covers_the_package():
    assert len(EDGES) > 100 and any(m.startswith("evalsuite.pretrain.") for m, _ in EDGES)


@pytest.mark.parametrize("source, target", [e for e in EDGES if layer(e[1]) > layer(e[0])])
def test_no_import_points_up(source, target):
    assert (source, target) in ALLOWED_UP, f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"


def test_pretraining_borrows_nothing_from_evaluation():
    bad = [(m, t) for m, t in EDGES if m.startswith("evalsuite.pretrain") and t.startswith(EVALUATION)]
    assert not bad


def test_evaluation_borrows_nothing_from_pretraining():
    bad = [(m, t) for m, t in EDGES if m.startswith(EVALUATION) and t.startswith("evalsuite.pretrain")]
    assert not bad


def test_datasets_import_nothing_from_extraction_or_tasks():
    above = ("evalsuite.features", "evalsuite.extraction", "evalsuite.imaging", "evalsuite.cache", "evalsuite.tasks", "evalsuite.runner")
    bad = [(m, t) for m, t in EDGES if m.startswith("evalsuite.datasets") and t.startswith(above)]
    assert not bad
