"""Result rows -> one table: a row per checkpoint, a column per (dataset, task) headline metric.

Rows that share checkpoint, dataset, task and protocol but differ in seed are averaged and shown
as mean ± spread (n): the sample std, or with ``spread='ci95'`` the half-width of the 95%
Student-t interval of the mean; rows measured under different protocols never share a cell (the column name then
carries the protocol id). ``mean rank`` ranks checkpoints per column (1 = best) and averages.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalsuite.errors import EvalsuiteError
from evalsuite.results import read_rows
from evalsuite.stats import ci95_halfwidth

FORMATS = ("md", "csv", "html", "latex")
SPREADS = ("std", "ci95")


def _names(rows: list[dict]) -> list[str]:
    """Each row's checkpoint label, with the file's sha256 prefix where one label names two files
    (two runs given the same --name are two checkpoints, never seeds of one)."""
    files: dict[str, set] = {}
    for r in rows:
        if r["checkpoint"].get("format") != "random" and r["checkpoint"].get("sha256"):
            files.setdefault(r["checkpoint"]["label"], set()).add(r["checkpoint"]["sha256"])
    return [f"{r['checkpoint']['label']} [{r['checkpoint']['sha256'][:8]}]"
            if len(files.get(r["checkpoint"]["label"], ())) > 1 else r["checkpoint"]["label"] for r in rows]


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    records = [{
        "checkpoint": name, "kind": r["checkpoint"].get("kind"),
        "dataset": r["dataset"], "task": r["task"], "metric": r["metric"], "protocol": r.get("protocol_id", ""),
        "seed": r.get("seed"), "value": float(r["value"]),
    } for r, name in zip(rows, _names(rows))]
    return pd.DataFrame.from_records(records)


def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and n over seeds for each (checkpoint, dataset, task, protocol)."""
    grouped = frame.groupby(["checkpoint", "dataset", "task", "metric", "protocol"], as_index=False)["value"]
    out = grouped.agg(mean="mean", std="std", n="count")
    out["std"] = out["std"].fillna(0.0)
    columns = out.groupby(["dataset", "task"])["protocol"].nunique()
    def name(r):
        base = f"{r.dataset}/{r.task}"
        return f"{base} [{r.protocol}]" if columns[(r.dataset, r.task)] > 1 else base
    out["column"] = out.apply(name, axis=1) if len(out) else []
    return out


def build(rows: list[dict], baseline: str | None = None, spread: str = "std") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (table of means, table of display strings). Values are fractions in [0, 1]."""
    if spread not in SPREADS:
        raise EvalsuiteError(f"unknown spread {spread!r}; valid spreads are: {', '.join(SPREADS)}")
    if not rows:
        raise EvalsuiteError("no result rows found; run 'evalsuite eval' first or point --results at a results folder")
    c = cells(rows_frame(rows))
    means = c.pivot(index="checkpoint", columns="column", values="mean")
    stds = c.pivot(index="checkpoint", columns="column", values="std")
    ns = c.pivot(index="checkpoint", columns="column", values="n")
    display = means.copy().astype(object)
    for col in means.columns:
        for ckpt in means.index:
            m = means.at[ckpt, col]
            if pd.isna(m):
                display.at[ckpt, col] = "-"
            elif ns.at[ckpt, col] > 1:
                n, std = int(ns.at[ckpt, col]), stds.at[ckpt, col]
                if spread == "ci95":
                    display.at[ckpt, col] = f"{100 * m:.1f} ± {100 * ci95_halfwidth(std, n):.1f} (95% CI, n={n})"
                else:
                    display.at[ckpt, col] = f"{100 * m:.1f} ± {100 * std:.1f} (n={n})"
            else:
                display.at[ckpt, col] = f"{100 * m:.1f}"
    ranks = means.rank(ascending=False, method="average")
    means["mean rank"] = ranks.mean(axis=1)
    display["mean rank"] = means["mean rank"].map(lambda v: f"{v:.2f}")
    if baseline is not None:
        if baseline not in means.index:
            raise EvalsuiteError(f"baseline {baseline!r} is not a checkpoint in the results; checkpoints are: {', '.join(means.index)}")
        for col in ranks.columns:
            delta = means[col] - means.at[baseline, col]
            means[f"Δ {col}"] = delta
            display[f"Δ {col}"] = delta.map(lambda v: "-" if pd.isna(v) else f"{100 * v:+.1f}")
    order = means["mean rank"].sort_values().index
    means.columns.name = display.columns.name = None
    return means.loc[order], display.loc[order]


def to_markdown(table: pd.DataFrame) -> str:
    header = ["checkpoint", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in table.iterrows():
        lines.append("| " + " | ".join([str(idx), *map(str, row.values)]) + " |")
    return "\n".join(lines) + "\n"


def render(display: pd.DataFrame, means: pd.DataFrame, fmt: str) -> str:
    if fmt not in FORMATS:
        raise EvalsuiteError(f"unknown format {fmt!r}; valid formats are: {', '.join(FORMATS)}")
    if fmt == "md":
        return to_markdown(display)
    if fmt == "csv":
        return means.to_csv(float_format="%.6f")
    if fmt == "html":
        return display.to_html(escape=True)
    return display.to_latex(escape=True)


def leaderboard(results_dir: str | Path, baseline: str | None = None, fmt: str = "md", spread: str = "std") -> str:
    means, display = build(read_rows(results_dir), baseline, spread)
    return render(display, means, fmt)
