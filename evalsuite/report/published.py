"""Published reference figures: numbers quoted from papers and official repositories, kept as
data in ``results/published/*.csv``. They are never measured here and never share a table or a
plot with measured rows; each carries its paper, table, protocol, arch, epochs and how it was
checked against its source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalsuite.errors import EvalsuiteError

PUBLISHED_DIR = Path(__file__).resolve().parents[2] / "results" / "published"
COLUMNS = ("method", "arch", "epochs", "dataset", "task", "metric", "value", "paper", "arxiv", "table",
           "protocol", "source_url", "verified")


def load_published(folder: str | Path = PUBLISHED_DIR) -> pd.DataFrame:
    """Every row of every CSV in ``folder``; values are percentages as the papers print them."""
    files = sorted(Path(folder).glob("*.csv"))
    if not files:
        raise EvalsuiteError(f"no published reference CSV files in {str(folder)!r}; expected e.g. reference.csv")
    frames = []
    for path in files:
        frame = pd.read_csv(path, dtype={"arxiv": str})
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise EvalsuiteError(f"published figures file {str(path)!r} lacks column {missing[0]!r}; "
                                 f"columns must be: {', '.join(COLUMNS)}")
        empty = frame[list(c for c in COLUMNS if c not in ("epochs", "arxiv"))].isna().any(axis=1)
        if empty.any():
            raise EvalsuiteError(f"published figures file {str(path)!r} row {int(empty.idxmax()) + 2} leaves a required "
                                 "field empty; only epochs and arxiv may be empty")
        frame["source_csv"] = path.name
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["epochs"] = out["epochs"].astype("Int64")
    return out
