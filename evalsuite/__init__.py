"""evalsuite: transfer-learning evaluation of self-supervised vision backbones.

Data flow: checkpoint -> format adapter -> backbone -> features -> task -> result row -> leaderboard.
"""

__version__ = "0.1.0"
