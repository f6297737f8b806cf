"""The report's numbers: the leaderboard (``evalsuite.leaderboard.build``) plus, per checkpoint,
its kind, method, epochs and on how many columns it beats the baseline."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalsuite.leaderboard import build

DELTA = "Δ "


@dataclass
class Summary:
    """Everything the renderers need; values are fractions in [0, 1], deltas too."""

    means: pd.DataFrame     # checkpoint x column (+ 'mean rank'), sorted by mean rank
    display: pd.DataFrame   # same shape, strings as the leaderboard prints them
    columns: list[str]      # the measured (dataset/task) columns
    info: pd.DataFrame      # checkpoint -> kind, method, arch, epochs
    baseline: str | None
    wins: pd.Series         # checkpoint -> "k/n" columns beating the baseline (NaN-free)

    def deltas(self) -> pd.DataFrame:
        return self.means[[DELTA + c for c in self.columns]].rename(columns=lambda c: c[len(DELTA):])


def checkpoint_info(rows: list[dict]) -> pd.DataFrame:
    """One record per checkpoint label (the first row seen names its kind, method, arch, epochs)."""
    seen: dict[str, dict] = {}
    for r in rows:
        c = r["checkpoint"]
        seen.setdefault(c["label"], {"kind": c.get("kind") or "ssl", "method": c.get("method") or "",
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
    columns = [c for c in means.columns if c != "mean rank" and not c.startswith(DELTA)]
    wins = count_wins(means, columns, baseline) if baseline else pd.Series("", index=means.index)
    info = checkpoint_info(rows).loc[means.index]
    return Summary(means, display, columns, info, baseline, wins)
