"""Published reference figures: numbers quoted from papers and official repositories, kept as
data in ``results/published/*.csv``. They are never measured here and never share a table or a
plot with measured rows; each carries its paper, table, protocol, arch, epochs and how it was
checked against its source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalsuite.errors import EvalsuiteError
from evalsuite.resources import data_dir

PUBLISHED_DIR = data_dir("published")
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


#: Title of the published block wherever it follows the measured leaderboard.
BLOCK_TITLE = "Published figures, same columns (quoted from papers, not measured here; % as printed)"


def published_grid(published: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Published figures in the measured leaderboard's shape: one row per (method, arch, epochs,
    paper, table), one column per ``dataset/task metric`` (the leaderboard's own column names). The
    measured ``columns`` come first and in their order, blank where nothing was published, so
    the two tables line up; columns only the papers have follow. Values are strings (% as printed)."""
    from evalsuite.leaderboard import metric_label

    frame = published.copy()
    frame["column"] = frame["dataset"] + "/" + frame["task"] + " " + frame["metric"].astype(str).map(metric_label)
    epochs = frame["epochs"].map(lambda v: "" if pd.isna(v) else f", {int(v)} ep")
    frame["row"] = frame["method"] + " (" + frame["arch"] + epochs + ")"
    frame["source"] = frame["paper"].str.split(",").str[0] + ", " + frame["table"]
    grid = frame.pivot_table(index=["row", "source"], columns="column", values="value", aggfunc="first")
    measured = list(columns or [])
    grid = grid.reindex(columns=measured + sorted(c for c in grid.columns if c not in measured))
    out = grid.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else f"{v:g}"))
    out = out.reset_index(level="source")
    out.index.name, out.columns.name = "published", None
    return out[[c for c in out.columns if c != "source"] + ["source"]]


def published_block(rows: list[dict], baseline: str | None, fmt: str, spread: str) -> str:
    """The published grid rendered like the leaderboard of ``rows`` and on its columns, under its
    own title (``evalsuite leaderboard --published``)."""
    from evalsuite.leaderboard import DELTA, RANK, build, render_table

    if fmt == "json":
        raise EvalsuiteError("--published does not combine with --format json (one JSON document per call); "
                             "read the published figures from results/published/*.csv")
    means, _ = build(rows, baseline, spread)
    measured = [c for c in means.columns if c != RANK and not c.startswith(DELTA)]
    grid = published_grid(load_published(), measured)
    title = {"md": f"\n## {BLOCK_TITLE}\n\n", "csv": f"\n# {BLOCK_TITLE}\n"}.get(fmt, f"\n{BLOCK_TITLE}\n")
    return title + render_table(grid, "published", fmt, "published-grid")
