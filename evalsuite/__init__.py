"""evalsuite: transfer-learning evaluation of self-supervised vision backbones.

Data flow: checkpoint -> format adapter -> backbone -> features -> task -> result row -> leaderboard.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate", "load_backbone"]


def __getattr__(name: str):
    """``evalsuite.evaluate`` and ``evalsuite.load_backbone`` (``evalsuite.api``), imported on
    first use: ``import evalsuite`` (and so ``evalsuite --version``) loads no torch."""
    if name in ("evaluate", "load_backbone"):
        from evalsuite import api

        return getattr(api, name)
    raise AttributeError(f"module 'evalsuite' has no attribute {name!r}")
