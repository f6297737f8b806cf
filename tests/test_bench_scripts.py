"""Every benchmark script still imports against the current package (a refactor once moved a
helper and broke one silently: the benchmarks only run on the GPU machine)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_bench_script_imports(script):
    namespace = runpy.run_path(str(BENCH / script), run_name="bench_import_check")
    assert callable(namespace["main"])
