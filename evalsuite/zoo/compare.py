"""Measured beside published: which protocol settings differ, and the table of measured minus
published per leaderboard cell (``evalsuite leaderboard`` and ``evalsuite report`` show it
whenever result rows carry a published figure)."""

from __future__ import annotations

import pandas as pd

#: The table's columns, in order.
COLUMNS = ("checkpoint", "column", "measured", "published", "measured - published", "protocol difference", "source")
TITLE = "Measured minus published (zoo checkpoints; published figures as their sources print them, % points)"


def delta_table(rows: list[dict]) -> pd.DataFrame:
    """One line per leaderboard cell whose rows carry a published figure: the cell's measured mean,
    the figure, their difference and the protocol difference ('same protocol' when none)."""
    from evalsuite.leaderboard import cells, rows_frame

    keys = ["checkpoint", "dataset", "task", "metric", "protocol_id"]
    frame = rows_frame(rows)
    frame["published"] = [r.get("published") for r in rows]
    frame = frame[frame["published"].notna()]
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    figures = frame.groupby(keys, sort=True)["published"].first()
    merged = cells(rows_frame(rows)).set_index(keys).join(figures, how="inner").reset_index()
    records = [{
        "checkpoint": r.checkpoint, "column": r.column, "measured": f"{r.mean:.1f}",
        "published": f"{r.published['value']:g}", "measured - published": f"{r.mean - r.published['value']:+.1f}",
        "protocol difference": "; ".join(r.published["differences"]) or "same protocol",
        "source": r.published["source"],
    } for r in merged.itertuples()]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def delta_block(rows: list[dict], fmt: str) -> str:
    """The table under its title in a leaderboard format, or '' when no row carries a figure."""
    from evalsuite.leaderboard import render_table

    table = delta_table(rows)
    if table.empty or fmt == "json":
        return ""
    title = {"md": f"\n## {TITLE}\n\n", "csv": f"\n# {TITLE}\n"}.get(fmt, f"\n{TITLE}\n")
    return title + render_table(table.set_index("checkpoint"), "checkpoint", fmt, "zoo-published")
