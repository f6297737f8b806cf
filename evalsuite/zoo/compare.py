"""Measured beside published: which protocol settings differ, and the table of measured minus
published per leaderboard cell (``evalsuite leaderboard`` and ``evalsuite report`` show it
whenever result rows carry a published figure)."""

from __future__ import annotations

import json

import pandas as pd

#: The table's columns, in order.
COLUMNS = ("checkpoint", "column", "measured", "published", "measured - published", "protocol difference", "source")
TITLE = "Measured minus published (zoo checkpoints; published figures as their sources print them, % points)"


def row_settings(row: dict) -> dict:
    """A row's protocol in the vocabulary of a figure's ``protocol``: its task settings, feature
    mode, transform (without its normalisation suffix) and the ``k`` of its headline metric."""
    from evalsuite.leaderboard import protocol_fields

    out = protocol_fields(row)
    if "transform" in out:
        out["transform"] = str(out["transform"]).split("-norm=", 1)[0]
    metric = str(row.get("metric", ""))
    if "@k=" in metric:
        out["k"] = int(metric.split("@k=", 1)[1])
    return out


def differences(row: dict, figure) -> list[str]:
    """Each published protocol setting this row did not use, as 'name: here X, published Y'; the
    published procedure first where it is not evalsuite's own for the task. Settings the row
    does not have (a ResNet's feature mode) are not compared."""
    here = row_settings(row)
    out = [f"procedure: published {figure.procedure}; here evalsuite's {row['task']}"] if figure.procedure else []
    if str(row.get("metric", "")).split("@", 1)[0] != figure.metric_base:
        out.append(f"metric: here {row['metric']}, published {figure.metric}")
    for name, value in figure.protocol.items():
        if name in here and json.dumps(here[name], default=str) != json.dumps(value, default=str):
            out.append(f"{name}: here {here[name]}, published {value}")
    return out


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
