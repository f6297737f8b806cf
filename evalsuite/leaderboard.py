"""Result rows -> one table: a row per checkpoint, a column per (dataset, task, metric).

Names a reader can use: a dataset given by path (``imagefolder:/data/x/pets``) is labelled by
its folder's name (``imagefolder:pets``, with more of the path only where two would read alike;
the row keeps the full path), and a column names its metric (``cifar10/knn top1@20``,
``BCCD/detection AP``). Rows that share checkpoint, dataset, task and protocol but differ in seed
are averaged and shown as mean ± spread (n): the sample std, or with ``spread='ci95'`` the
half-width of the 95% Student-t interval of the mean; rows measured under different protocols
never share a cell (the column name then says how they differ: ``[transform=native32]`` against
``[transform=resize256-crop224]``, or the protocol id where the difference is too long to read). ``mean rank`` ranks
checkpoints per column (1 = best) over the columns every ranked checkpoint has (``ranked_subset``),
so a checkpoint measured on one easy column cannot rank first by missing the others. Values are percent in every format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evalsuite.errors import EvalsuiteError
from evalsuite.results import protocol_fields, read_rows
from evalsuite.stats import ci95_halfwidth
from evalsuite.tabular import html_table, latex_table, md_table

FORMATS = ("md", "csv", "html", "latex", "json")
SPREADS = ("std", "ci95")
RANK = "mean rank"
DELTA = "Δ "
#: The tidy (long) form: one line per cell, as ``--format csv`` and ``json`` print it.
TIDY = ("checkpoint", "dataset", "task", "metric", "mean", "std", "n", "ci95", "protocol_id", "dataset_source")


def _path_parts(name: str) -> tuple[str, list[str]] | None:
    """``kind:PATH[:MORE]`` -> (kind, PATH's components); None for a registered name."""
    kind, sep, rest = name.partition(":")
    path = rest.split(":", 1)[0]  # coco:ANN.json:IMG_DIR is named by its annotation file
    if not sep or "/" not in path and "\\" not in path:
        return None
    parts = [p for p in Path(path).parts if p not in ("/", "")]
    if parts:
        parts[-1] = Path(parts[-1]).stem if parts[-1].endswith(".json") else parts[-1]
    return kind, parts


def dataset_labels(names) -> dict[str, str]:
    """Short, machine-independent labels: ``kind:NAME`` from the last path component, with as
    many more components as it takes to tell two sources apart; registered names unchanged."""
    names = sorted(set(names))
    split = {n: _path_parts(n) for n in names}
    labels = {n: n for n in names if split[n] is None}
    pathed = [n for n in names if split[n] is not None]
    depth = 1
    while pathed:
        guess = {n: f"{split[n][0]}:{'/'.join(split[n][1][-depth:])}" for n in pathed}
        taken = list(guess.values()) + list(labels.values())
        done = [n for n in pathed if taken.count(guess[n]) == 1 or depth >= len(split[n][1])]
        labels.update({n: guess[n] for n in done})
        pathed = [n for n in pathed if n not in done]
        depth += 1
    return labels


def metric_label(metric: str) -> str:
    """``top1@k=20`` -> ``top1@20``: the headline metric as a column header prints it."""
    return metric.replace("@k=", "@")


def checkpoint_names(rows: list[dict]) -> list[str]:
    """Each row's checkpoint label, with the file's sha256 prefix where one label names two files
    (two runs given the same --name are two checkpoints, never seeds of one)."""
    files: dict[str, set] = {}
    for r in rows:
        if r["checkpoint"].get("format") != "random" and r["checkpoint"].get("sha256"):
            files.setdefault(r["checkpoint"]["label"], set()).add(r["checkpoint"]["sha256"])
    return [f"{r['checkpoint']['label']} [{r['checkpoint']['sha256'][:8]}]"
            if len(files.get(r["checkpoint"]["label"], ())) > 1 else r["checkpoint"]["label"] for r in rows]


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    labels = dataset_labels(r["dataset"] for r in rows)
    records = [{
        "checkpoint": name, "kind": r["checkpoint"].get("kind"),
        "dataset": labels[r["dataset"]], "dataset_source": r["dataset"], "task": r["task"],
        "metric": metric_label(str(r["metric"])), "protocol_id": r.get("protocol_id", ""),
        "seed": r.get("seed"), "value": 100 * float(r["value"]),
        "protocol": json.dumps(protocol_fields(r), sort_keys=True, default=str),
    } for r, name in zip(rows, checkpoint_names(rows))]
    return pd.DataFrame.from_records(records)


#: Longest protocol difference a column header spells out; past it, the protocol id.
MAX_PROTOCOL_LABEL = 48


def protocol_labels(protocols: dict[str, str]) -> dict[str, str]:
    """protocol id -> its fields (JSON) for the protocols of one column, -> a label naming the
    fields that differ between them (``transform=native32``), else the id."""
    fields = {pid: json.loads(blob) for pid, blob in protocols.items()}
    keys = sorted({k for f in fields.values() for k in f})
    differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in fields.values()}) > 1]
    labels = {pid: ", ".join(f"{k}={json.dumps(f[k]) if isinstance(f.get(k), (list, dict)) else f.get(k, '-')}"
                             for k in differ) for pid, f in fields.items()}
    readable = differ and len(set(labels.values())) == len(labels) and max(map(len, labels.values())) <= MAX_PROTOCOL_LABEL
    return labels if readable else {pid: pid for pid in fields}


def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, n and 95% half-width over seeds (percent) for each (checkpoint, dataset, task,
    metric, protocol), with the leaderboard column each belongs to."""
    keys = ["checkpoint", "dataset", "task", "metric", "protocol_id", "dataset_source"]
    out = frame.groupby(keys, as_index=False, sort=True)["value"].agg(mean="mean", std="std", n="count")
    out["std"] = out["std"].fillna(0.0)
    out["ci95"] = [ci95_halfwidth(s, int(n)) for s, n in zip(out["std"], out["n"])]
    blobs = dict(zip(frame["protocol_id"], frame["protocol"]))
    labels = {}
    for column, group in out.groupby(["dataset", "task", "metric"]):
        pids = sorted(set(group["protocol_id"]))
        if len(pids) > 1:  # one protocol: the column needs no label
            labels.update({(*column, p): lab for p, lab in protocol_labels({p: blobs[p] for p in pids}).items()})
    out["column"] = [f"{d}/{t} {m}" + (f" [{labels[(d, t, m, p)]}]" if (d, t, m, p) in labels else "")
                     for d, t, m, p in zip(out["dataset"], out["task"], out["metric"], out["protocol_id"])]
    return out


def _display(mean: float, std: float, n: float, spread: str) -> str:
    if pd.isna(mean):
        return "-"
    n = int(n)  # a float after the pivot wherever some cell is empty
    if n <= 1:
        return f"{mean:.1f}"
    if spread == "ci95":
        return f"{mean:.1f} ± {ci95_halfwidth(std, n):.1f} (95% CI, n={n})"
    return f"{mean:.1f} ± {std:.1f} (n={n})"


def ranked_subset(means: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[str]]:
    """(checkpoints ranked, columns their mean rank averages): the columns every ranked
    checkpoint has. When no column is shared by all, the checkpoints measured on the fewest
    columns are left unranked, one at a time, until some column is (a detection-only row
    beside classification rows is shown, not ranked)."""
    ranked = list(means.index)
    while ranked:
        shared = [c for c in columns if means.loc[ranked, c].notna().all()]
        if shared:
            return ranked, shared
        coverage = means.loc[ranked, columns].notna().sum(axis=1)
        ranked.remove(coverage.idxmin())
    return [], []


def build(rows: list[dict], baseline: str | None = None, spread: str = "std") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (table of means, table of display strings), in percent, sorted by mean rank."""
    if spread not in SPREADS:
        raise EvalsuiteError(f"unknown spread {spread!r}; valid spreads are: {', '.join(SPREADS)}")
    if not rows:
        raise EvalsuiteError("no result rows found; run 'evalsuite eval' first or point --results at a results folder")
    c = cells(rows_frame(rows))
    means, stds, ns = (c.pivot(index="checkpoint", columns="column", values=v) for v in ("mean", "std", "n"))
    columns = list(means.columns)
    display = pd.DataFrame({col: [_display(means.at[k, col], stds.at[k, col], ns.at[k, col], spread)
                                  for k in means.index] for col in columns}, index=means.index)
    ranked, shared = ranked_subset(means, columns)
    means[RANK] = means.loc[ranked, shared].rank(ascending=False, method="average").mean(axis=1) if shared else float("nan")
    display[RANK] = means[RANK].map(lambda v: "-" if pd.isna(v) else f"{v:.2f}")
    if baseline is not None:
        if baseline not in means.index:
            raise EvalsuiteError(f"baseline {baseline!r} is not a checkpoint in the results; checkpoints are: {', '.join(means.index)}")
        for col in columns:
            delta = means[col] - means.at[baseline, col]
            means[DELTA + col] = delta
            display[DELTA + col] = delta.map(lambda v: "-" if pd.isna(v) else f"{v:+.1f}")
    order = sorted(means.index, key=lambda k: (pd.isna(means.at[k, RANK]), means.at[k, RANK], k))
    means.columns.name = display.columns.name = None
    means = means.loc[order]
    means.attrs["rank_columns"] = shared
    return means, display.loc[order]


def best_cells(means: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """True at the best mean of each measured column (ties: all of them); a column with a single
    value has no best."""
    return pd.DataFrame({c: means[c].eq(means[c].max()) & (means[c].notna().sum() > 1) for c in columns},
                        index=means.index)


def rank_note(means: pd.DataFrame, columns: list[str], lead: str = "") -> str:
    """A sentence saying which columns the mean rank averages, when not all of them."""
    shared = means.attrs.get("rank_columns", columns)
    unranked = [k for k in means.index if pd.isna(means.at[k, RANK])]
    if len(shared) == len(columns) and not unranked:
        return ""
    if not shared:
        return f"{lead}No column was measured for two checkpoints, so no mean rank is given.\n"
    note = f"{lead}Mean rank over the {len(shared)} of {len(columns)} columns every ranked checkpoint has ({', '.join(shared)})"
    return note + (f"; not ranked: {', '.join(unranked)}.\n" if unranked else ".\n")


def tidy(rows: list[dict]) -> pd.DataFrame:
    """The long form: one line per (checkpoint, dataset, task, metric, protocol), in percent."""
    c = cells(rows_frame(rows))
    return c[list(TIDY)].reset_index(drop=True)


def render(rows: list[dict], baseline: str | None, fmt: str, spread: str = "std") -> str:
    if fmt not in FORMATS:
        raise EvalsuiteError(f"unknown format {fmt!r}; valid formats are: {', '.join(FORMATS)}")
    means, display = build(rows, baseline, spread)
    if fmt == "csv":
        return tidy(rows).to_csv(index=False, float_format="%.4f")
    if fmt == "json":
        ranks = [{"checkpoint": k, RANK.replace(" ", "_"): None if pd.isna(v) else round(float(v), 4)}
                 for k, v in means[RANK].items()]
        return json.dumps({"unit": "percent", "spread": spread, "baseline": baseline,
                           "rank_columns": means.attrs["rank_columns"], "ranking": ranks,
                           "cells": tidy(rows).round(4).to_dict(orient="records")}, indent=1) + "\n"
    measured = [c for c in display.columns if c != RANK and not c.startswith(DELTA)]
    bold = best_cells(means, measured)
    if fmt == "md":
        return md_table(display, "checkpoint", bold) + rank_note(means, measured, "\n")
    if fmt == "html":
        return html_table(display, "leaderboard", "checkpoint", bold)
    return latex_table(display, "checkpoint", bold)


def render_table(frame: pd.DataFrame, index_name: str, fmt: str, table_id: str = "table") -> str:
    """A table of strings (e.g. the published grid) in one of the text formats, as the leaderboard is."""
    if fmt == "csv":
        return frame.rename_axis(index_name).to_csv()
    if fmt == "md":
        return md_table(frame, index_name)
    if fmt == "html":
        return html_table(frame, table_id, index_name)
    if fmt == "latex":
        return latex_table(frame, index_name)
    raise EvalsuiteError(f"unknown format {fmt!r}; valid formats are: {', '.join(f for f in FORMATS if f != 'json')}")


def leaderboard(results_dir: str | Path, baseline: str | None = None, fmt: str = "md", spread: str = "std") -> str:
    return render(read_rows(results_dir), baseline, fmt, spread)


def full_leaderboard(results_dir: str | Path, baseline: str | None = None, fmt: str = "md", spread: str = "std",
                     published: bool = False) -> str:
    """What ``evalsuite leaderboard`` prints: the table, then zoo checkpoints' measured-minus-published
    cells and, with ``published``, the published reference figures on the same columns."""
    from evalsuite.report.published import published_block
    from evalsuite.zoo.compare import delta_block

    rows = read_rows(results_dir)  # read (and any stray file warned about) once for all three blocks
    text = render(rows, baseline, fmt, spread) + delta_block(rows, fmt)
    return text + (published_block(rows, baseline, fmt, spread) if published else "")
