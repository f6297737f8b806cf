"""Shared fixtures: an isolated feature cache and the path of the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

#: ../shared/data beside the project (CI); EVALSUITE_SHARED_DATA points elsewhere (a git worktree).
SHARED_DATA = Path(os.environ.get("EVALSUITE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own cache root and default results store, so nothing lands in
    ~/.cache or ~/.local/share."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EVALSUITE_CACHE", str(cache))
    monkeypatch.setenv("EVALSUITE_RESULTS", str(tmp_path / "default-results"))
    return cache


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def one_thread():
    """Tiny convolutions run faster on one thread, and far faster on a loaded 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
