"""Render a ``Summary`` (and the published figures) as one self-contained HTML page or as
Markdown. Measured rows and published reference figures are two separate, labelled tables."""

from __future__ import annotations

import base64
import html

import pandas as pd

from evalsuite.report.published import published_grid
from evalsuite.report.tables import DELTA, Summary

PUBLISHED_TITLE = "Published reference figures (quoted from papers, not measured by this project)"
PUBLISHED_SHOWN = ("method", "arch", "epochs", "dataset", "task", "metric", "value", "paper", "table", "protocol", "verified")
CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: right; }
th { background: #eee; } td.text { text-align: left; }
tr.supervised td { background: #fff7e0; } td.pos { color: #1a7f37; } td.neg { color: #b42318; }
section.published { border: 2px dashed #888; padding: 0 1em; background: #f6f6fb; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
"""


def leaderboard_table(s: Summary) -> pd.DataFrame:
    """Strings: checkpoint info, then each column's value and Δ, then wins and mean rank."""
    out = pd.DataFrame(index=s.means.index)
    out["kind"] = s.info["kind"]
    out["method"] = s.info["method"]
    out["epochs"] = s.info["epochs"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    for column in s.columns:
        out[column] = s.display[column]
        if s.baseline:
            out[DELTA + column] = s.display[DELTA + column]
    if s.baseline:
        out[f"beats {s.baseline}"] = s.wins
    out["mean rank"] = s.display["mean rank"]
    return out


def published_table(published: pd.DataFrame) -> pd.DataFrame:
    out = published[list(PUBLISHED_SHOWN)].copy()
    out["epochs"] = out["epochs"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    out["value"] = out["value"].map(lambda v: f"{v:g}")
    return out.fillna("").astype(str)


def _cell(column: str, text: str) -> str:
    cls = "text" if column in ("kind", "method", "arch", "dataset", "task", "metric", "paper", "table", "protocol", "verified", "checkpoint") else ""
    if column.startswith(DELTA) and text[:1] in "+-" and text not in ("-", "+0.0", "-0.0"):
        cls = "pos" if text.startswith("+") else "neg"
    return f'<td class="{cls}">{html.escape(text)}</td>' if cls else f"<td>{html.escape(text)}</td>"


def html_table(frame: pd.DataFrame, table_id: str, index_name: str | None, kinds: pd.Series | None = None) -> str:
    head = ([index_name] if index_name else []) + list(frame.columns)
    lines = [f'<table id="{table_id}">', "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for idx, row in frame.iterrows():
        cls = f' class="{html.escape(str(kinds[idx]))}"' if kinds is not None else ""
        cells = ([f'<td class="text">{html.escape(str(idx))}</td>'] if index_name else [])
        cells += [_cell(c, str(v)) for c, v in row.items()]
        lines.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def to_html(s: Summary, figures: dict[str, tuple[str, bytes]], published: pd.DataFrame | None, source: str) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>evalsuite report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>evalsuite report</h1>",
             f"<p>Measured result rows from <code>{html.escape(source)}</code>; accuracy in %, mean over seeds "
             "(± std and n when several seeds). Rows with different protocols never share a column.</p>"]
    if s.baseline:
        parts.append(f"<p>Baseline: <b>{html.escape(s.baseline)}</b>. Δ columns are checkpoint minus baseline in "
                     "percentage points; <i>beats</i> counts the columns on which the checkpoint's mean is higher.</p>")
    else:
        parts.append("<p>No baseline chosen (pass <code>--baseline NAME</code> for Δ columns and win counts).</p>")
    parts += ["<h2>Leaderboard (measured)</h2>", html_table(leaderboard_table(s), "leaderboard", "checkpoint", s.info["kind"])]
    parts.append("<h2>Figures (measured rows only)</h2>")
    for name, (caption, png) in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure id="fig-{name}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if published is not None:
        parts += ['<section class="published">', f"<h2>{html.escape(PUBLISHED_TITLE)}</h2>",
                  "<p>Values in % as printed in the source. Different data, protocols and training budgets from the "
                  "measured table above: compare with care.</p>",
                  html_table(published_grid(published, list(s.columns)), "published-grid", "published"),
                  html_table(published_table(published), "published", None), "</section>"]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def md_table(frame: pd.DataFrame, index_name: str | None) -> str:
    head = ([index_name] if index_name else []) + list(map(str, frame.columns))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for idx, row in frame.iterrows():
        cells = ([str(idx)] if index_name else []) + [str(v).replace("|", "\\|") for v in row.values]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_markdown(s: Summary, image_files: dict[str, tuple[str, str]], published: pd.DataFrame | None, source: str) -> str:
    parts = ["# evalsuite report\n", f"Measured result rows from `{source}`; accuracy in %, mean over seeds.\n"]
    parts.append(f"Baseline: **{s.baseline}** (Δ = checkpoint minus baseline, points).\n" if s.baseline
                 else "No baseline chosen (pass `--baseline NAME`).\n")
    parts += ["## Leaderboard (measured)\n", md_table(leaderboard_table(s), "checkpoint")]
    if image_files:
        parts.append("## Figures (measured rows only)\n")
        parts += [f"![{caption}]({name})\n" for caption, name in image_files.values()]
    if published is not None:
        parts += [f"## {PUBLISHED_TITLE}\n", md_table(published_grid(published, list(s.columns)), "published"),
                  md_table(published_table(published), None)]
    return "\n".join(parts)
