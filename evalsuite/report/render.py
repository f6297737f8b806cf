"""Render a ``Summary`` (and the published figures) as one self-contained HTML page or as
Markdown. The measured table is the transfer table as papers print it: a row per checkpoint,
datasets grouped under their task and metric, the best of each column in bold, the baseline row
marked, Δ vs the baseline under each value and ± std where a cell averages several seeds.
Published reference figures are a separate, visibly different section, never mixed in."""

from __future__ import annotations

import base64
import html
from itertools import groupby

import pandas as pd

from evalsuite.report.published import published_grid
from evalsuite.report.tables import DELTA, Summary
from evalsuite.zoo.compare import TITLE as ZOO_TITLE
from evalsuite.tabular import html_table, md_table

PUBLISHED_TITLE = "Published reference figures (quoted from papers, not measured by this project)"
PUBLISHED_SHOWN = ("method", "arch", "epochs", "dataset", "task", "metric", "value", "paper", "table", "protocol", "verified")
TEXT_COLUMNS = {"method", "arch", "dataset", "task", "metric", "paper", "table", "protocol", "verified", "source",
                "column", "protocol difference"}
#: Fits a 1,280 px window: the page never grows wider; a table wider still scrolls in its own box.
CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1220px; padding: 0 1em; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
th, td { padding: 3px 5px; text-align: right; vertical-align: top; }
thead th { white-space: normal; max-width: 7em; overflow-wrap: break-word; }
thead th { border-bottom: 1px solid #444; font-weight: 600; }
thead tr:first-child th { border-top: 2px solid #222; } tbody tr:last-child td { border-bottom: 2px solid #222; }
th.task { text-align: center; border-bottom: 1px solid #888; }
td.text, th.text { text-align: left; } td { white-space: nowrap; } td.text { white-space: normal; } #transfer td.text { min-width: 12em; max-width: 16em; }
td .sd { color: #555; font-size: 11px; margin-left: 2px; } td .d { display: block; font-size: 11px; color: #555; }
td .pos { color: #1a7f37; } td .neg { color: #b42318; }
tr.baseline td { background: #f1f4fa; } .tag { font-size: 10px; border: 1px solid #789; border-radius: 3px; padding: 0 3px; margin-left: 4px; }
section.published { border: 2px dashed #a06; padding: 0 1em 0.5em; margin-top: 2.5em; background: #fbf3f7; }
section.published h2 { color: #a06; } section.published table { font-size: 12px; }
section.published td { white-space: normal; overflow-wrap: anywhere; min-width: 3em; max-width: 20em; }
figure { margin: 0.5em 0 1.5em; } img { max-width: 100%; height: auto; display: block; }
"""


#: Tooltips of the last columns; the intro says the same in words.
TAIL_TITLES = {"wins": "columns on which the checkpoint beats the baseline {}, of those both were measured on",
               "mean rank": "mean of the per-column ranks (1 = best) over the columns every ranked checkpoint has"}


def _number(s: Summary, ckpt: str, column: str) -> tuple[str, str, str]:
    """(value, spread, delta) strings of one cell; '' where absent."""
    mean = s.means.at[ckpt, column]
    if pd.isna(mean):
        return "–", "", ""
    n = s.ns.at[ckpt, column]
    spread = f"±{s.stds.at[ckpt, column]:.1f}" if n > 1 else ""
    delta = ""
    if s.baseline and ckpt != s.baseline and pd.notna(s.means.at[ckpt, DELTA + column]):
        delta = f"{s.means.at[ckpt, DELTA + column]:+.1f}"
    return f"{mean:.1f}", spread, delta


def _checkpoint_cell(s: Summary, ckpt: str) -> str:
    info = s.info.loc[ckpt]
    tag = '<span class="tag">baseline</span>' if ckpt == s.baseline else ""
    detail = ", ".join(x for x in (str(info["method"] or ""), f"{int(info['epochs'])} ep" if pd.notna(info["epochs"]) else "") if x)
    sub = f'<span class="d">{html.escape(str(info["kind"]))}{" · " + html.escape(detail) if detail else ""}</span>'
    return f'<td class="text">{html.escape(ckpt)}{tag}{sub}</td>'


def _task_groups(s: Summary) -> list[tuple[str, list[str]]]:
    return [(task, list(cols)) for task, cols in groupby(s.columns, key=lambda c: s.parts.at[c, "task"])]


def _group_title(s: Summary, task: str, cols: list[str]) -> str:
    metrics = sorted({s.parts.at[c, "metric"] for c in cols})
    return f"{task} · {metrics[0]}" if len(metrics) == 1 else task


def _dataset_title(s: Summary, column: str, group_metrics: int) -> str:
    title = s.parts.at[column, "dataset"] + ("" if group_metrics == 1 else f" {s.parts.at[column, 'metric']}")
    return title + (column[column.index(" ["):] if " [" in column else "")  # the protocol id when it splits a column


def _breakable(text: str) -> str:
    """Escaped, with line-break opportunities after ':' and '/' (``imagefolder:`` | ``pets``)."""
    return html.escape(text).replace(":", ":<wbr>").replace("/", "/<wbr>")


def transfer_table(s: Summary) -> str:
    """The measured table as HTML; every value cell carries its column in ``data-col``."""
    groups = _task_groups(s)
    best = s.best()
    tail = (["wins"] if s.baseline else []) + ["mean rank"]
    top = ['<th rowspan="2" class="text">checkpoint</th>']
    top += [f'<th colspan="{len(cols)}" class="task">{html.escape(_group_title(s, task, cols))}</th>' for task, cols in groups]
    top += [f'<th rowspan="2" title="{html.escape(TAIL_TITLES[t].format(s.baseline))}">{html.escape(t)}</th>' for t in tail]
    second = [f"<th>{_breakable(_dataset_title(s, c, len({s.parts.at[x, 'metric'] for x in cols})))}</th>"
              for _, cols in groups for c in cols]
    lines = ['<div class="scroll"><table id="transfer">', "<thead><tr>" + "".join(top) + "</tr>",
             "<tr>" + "".join(second) + "</tr></thead>", "<tbody>"]
    for ckpt in s.means.index:
        cells = [_checkpoint_cell(s, ckpt)]
        for column in s.columns:
            value, spread, delta = _number(s, ckpt, column)
            value = f'<span class="v">{f"<b>{value}</b>" if best.at[ckpt, column] else value}</span>'
            sd = f'<span class="sd">{spread}</span>' if spread else ""
            d = f'<span class="d {"pos" if delta.startswith("+") else "neg"}">{delta}</span>' if delta else ""
            n = s.ns.at[ckpt, column]
            title = f' title="n={int(n)}"' if pd.notna(n) else ""
            cells.append(f'<td data-col="{html.escape(column)}"{title}>{value}{sd}{d}</td>')
        if s.baseline:
            cells.append(f"<td>{html.escape(str(s.wins[ckpt]))}</td>")
        cells.append(f'<td data-col="mean rank">{html.escape(s.display.at[ckpt, "mean rank"])}</td>')
        cls = ' class="baseline"' if ckpt == s.baseline else ""
        lines.append(f'<tr data-ckpt="{html.escape(ckpt)}"{cls}>' + "".join(cells) + "</tr>")
    lines.append("</tbody></table></div>")
    return "\n".join(lines)


def markdown_table(s: Summary) -> str:
    """The same table in Markdown: one header row (``dataset/task metric``), Δ in square brackets."""
    frame = pd.DataFrame(index=s.means.index)
    frame["kind"] = s.info["kind"]
    for column in s.columns:
        texts = []
        for ckpt in s.means.index:
            value, spread, delta = _number(s, ckpt, column)
            n = s.ns.at[ckpt, column]
            seeds = f"(n={int(n)})" if spread else ""
            texts.append(" ".join(t for t in (value, spread.replace("±", "± "), seeds, f"[{delta}]" if delta else "") if t))
        frame[column] = texts
    if s.baseline:
        frame["wins"] = s.wins
    frame["mean rank"] = s.display["mean rank"]
    frame.index = [f"{k} (baseline)" if k == s.baseline else k for k in frame.index]
    best = s.best().reindex(columns=frame.columns, fill_value=False)
    best.index = frame.index
    return md_table(frame, "checkpoint", best)


def published_table(published: pd.DataFrame) -> pd.DataFrame:
    out = published[list(PUBLISHED_SHOWN)].copy()
    out["epochs"] = out["epochs"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    out["value"] = out["value"].map(lambda v: f"{v:g}")
    return out.fillna("").astype(str)


def _grid(s: Summary, published: pd.DataFrame) -> pd.DataFrame | None:
    """The published grid on the measured columns that have a published figure (the papers' other
    columns are in the full table below it); None when no measured column has one."""
    grid = published_grid(published, list(s.columns))
    shown = [c for c in s.columns if c in grid.columns and (grid[c] != "").any()]
    if not shown:
        return None
    grid = grid[shown + ["source"]]
    return grid[(grid[shown] != "").any(axis=1)]


def _text(column: str, _: str) -> str:
    """CSS class of a published-table cell: words left, numbers right."""
    return "text" if column in TEXT_COLUMNS else ""


def _intro(s: Summary) -> list[str]:
    """Plain sentences: units, spread, baseline, what the mean rank averages."""
    out = ["Values in % (AP for detection), mean over seeds; ± is the sample std where a cell averages "
           "n > 1 seeds (n in the cell's tooltip in HTML, beside it in Markdown); bold is the best of each "
           "column. Rows measured under different protocols never share a column."]
    if s.baseline:
        out.append(f"Baseline: {s.baseline}. The signed number with each value (under it in HTML, in square "
                   "brackets in Markdown) is the checkpoint minus the baseline, in points; 'wins' counts the "
                   "columns on which its mean is higher, of those both were measured on.")
    else:
        out.append("No baseline chosen (pass --baseline NAME for differences and win counts).")
    unranked = [k for k in s.means.index if pd.isna(s.means.at[k, "mean rank"])]
    if s.rank_columns:
        out.append(f"Mean rank over the {len(s.rank_columns)} column(s) every ranked checkpoint has"
                   + (f"; not ranked (measured on other columns): {', '.join(unranked)}." if unranked else "."))
    return out


def to_html(s: Summary, figures: dict[str, tuple[str, bytes]], published: pd.DataFrame | None, source: str,
            zoo: pd.DataFrame | None = None) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>evalsuite report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>evalsuite report</h1>",
             f"<p>Measured result rows from <code>{html.escape(source)}</code>.</p>"]
    parts += [f"<p>{html.escape(t)}</p>" for t in _intro(s)]
    parts += ["<h2>Transfer results (measured)</h2>", transfer_table(s)]
    if figures:
        parts.append("<h2>Figures (measured rows only)</h2>")
    for name, (caption, png) in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure id="fig-{name}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if zoo is not None:
        parts += [f"<h2>{html.escape(ZOO_TITLE)}</h2>", '<div class="scroll">',
                  html_table(zoo.set_index("checkpoint"), "zoo-published", "checkpoint", cell_class=_text), "</div>"]
    if published is not None:
        grid = _grid(s, published)
        parts += ['<section class="published">', f"<h2>{html.escape(PUBLISHED_TITLE)}</h2>",
                  "<p>Values in % as printed in the source. Different data, protocols and training budgets from the "
                  "measured table above: compare with care.</p>",
                  '<div class="scroll">',
                  *([html_table(grid, "published-grid", "published", cell_class=_text)] if grid is not None else []),
                  html_table(published_table(published), "published", None, cell_class=_text),
                  "</div></section>"]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def to_markdown(s: Summary, image_files: dict[str, tuple[str, str]], published: pd.DataFrame | None, source: str,
                zoo: pd.DataFrame | None = None) -> str:
    parts = ["# evalsuite report\n", f"Measured result rows from `{source}`.\n", *[t + "\n" for t in _intro(s)]]
    parts += ["## Transfer results (measured)\n", markdown_table(s)]
    if image_files:
        parts.append("## Figures (measured rows only)\n")
        parts += [f"![{caption}]({name})\n" for caption, name in image_files.values()]
    if zoo is not None:
        parts += [f"## {ZOO_TITLE}\n", md_table(zoo.set_index("checkpoint"), "checkpoint")]
    if published is not None:
        grid = _grid(s, published)
        parts += ["---\n", f"## {PUBLISHED_TITLE}\n", *([md_table(grid, "published")] if grid is not None else []),
                  md_table(published_table(published), None)]
    return "\n".join(parts)
