"""The report's numbers: the leaderboard (``evalsuite.leaderboard.build``) plus, per checkpoint,
its kind, method, epochs and on how many columns it beats the baseline, and per column its
dataset, task, metric, spread and n (for the grouped header and the error bars)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalsuite.leaderboard import DELTA, RANK, best_cells, build, cells, checkpoint_names, rows_frame


@dataclass
class Summary:
    """Everything the renderers need; values are percent, deltas in points."""

    means: pd.DataFrame     # checkpoint x column (+ 'mean rank', Δ columns), sorted by mean rank
    display: pd.DataFrame   # same shape, strings as the leaderboard prints them
    columns: list[str]      # the measured columns, grouped by task then dataset
    parts: pd.DataFrame     # column -> dataset, task, metric
    stds: pd.DataFrame      # checkpoint x column: sample std over seeds (0 for one seed)
    ns: pd.DataFrame        # checkpoint x column: seeds averaged (NaN where not measured)
    info: pd.DataFrame      # checkpoint -> kind, method, arch, epochs
    baseline: str | None
    wins: pd.Series         # checkpoint -> "k/n" columns beating the baseline (NaN-free)

    def deltas(self) -> pd.DataFrame:
        return self.means[[DELTA + c for c in self.columns]].rename(columns=lambda c: c[len(DELTA):])

    def best(self) -> pd.DataFrame:
        return best_cells(self.means, self.columns)

    @property
    def rank_columns(self) -> list[str]:
        return self.means.attrs.get("rank_columns", [])


def task_order(task: str) -> tuple[float, str]:
    """Where a task's columns stand: its class's ``REPORT_ORDER``; a task that is not registered (a
    row of a removed task) or states none follows, alphabetically."""
    from evalsuite.registry import TASKS, names
    from evalsuite.tasks.protocol import hook

    cls = TASKS.get(task) if task in names(TASKS) else None
    return (hook(cls, "REPORT_ORDER"), task)


def checkpoint_info(rows: list[dict]) -> pd.DataFrame:
    """One record per checkpoint label (the first row seen names its kind, method, arch, epochs)."""
    seen: dict[str, dict] = {}
    for r, name in zip(rows, checkpoint_names(rows)):  # the leaderboard's names (label [sha] where two files share one)
        c = r["checkpoint"]
        seen.setdefault(name, {"kind": c.get("kind") or "ssl", "method": c.get("method") or "",
                                     "arch": c.get("arch") or "", "epochs": c.get("epochs")})
    frame = pd.DataFrame.from_dict(seen, orient="index")
    frame["epochs"] = pd.to_numeric(frame["epochs"], errors="coerce").astype("Int64")
    return frame


def count_wins(means: pd.DataFrame, columns: list[str], baseline: str) -> pd.Series:
    """"k/n": on k of the n columns both measured, the checkpoint's mean beats the baseline's."""
    out = {}
    for ckpt in means.index:
        if ckpt == baseline:
            out[ckpt] = "baseline"
            continue
        both = [c for c in columns if pd.notna(means.at[ckpt, c]) and pd.notna(means.at[baseline, c])]
        k = sum(means.at[ckpt, c] > means.at[baseline, c] for c in both)
        out[ckpt] = f"{k}/{len(both)}"
    return pd.Series(out)


def summarize(rows: list[dict], baseline: str | None) -> Summary:
    means, display = build(rows, baseline)
    c = cells(rows_frame(rows))
    parts = c.drop_duplicates("column").set_index("column")[["dataset", "task", "metric"]]
    columns = sorted(parts.index, key=lambda col: (task_order(parts.at[col, "task"]), parts.at[col, "dataset"], col))
    stds, ns = (c.pivot(index="checkpoint", columns="column", values=v).reindex(means.index) for v in ("std", "n"))
    wins = count_wins(means, columns, baseline) if baseline else pd.Series("", index=means.index)
    info = checkpoint_info(rows).loc[means.index]
    return Summary(means, display, columns, parts.loc[columns], stds, ns, info, baseline, wins)


__all__ = ["DELTA", "RANK", "Summary", "summarize"]
