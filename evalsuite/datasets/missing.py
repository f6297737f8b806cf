"""Turn torchvision's 'not found' errors into one sentence that names the path and the flag."""

from __future__ import annotations

import contextlib
from pathlib import Path

from evalsuite.errors import EvalsuiteError


@contextlib.contextmanager
def dataset_files(name: str, root: str | Path):
    """Re-raise a torchvision missing-files error as an ``EvalsuiteError``."""
    try:
        yield
    except (RuntimeError, FileNotFoundError) as exc:
        if isinstance(exc, RuntimeError) and "not found" not in str(exc).lower() and "download" not in str(exc).lower():
            raise
        raise EvalsuiteError(
            f"dataset {name!r} was not found under {Path(root).resolve()}; pass --data-root DIR "
            "where it is, or --download to fetch it there"
        ) from exc
