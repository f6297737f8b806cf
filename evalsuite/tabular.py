"""A table of strings as Markdown, HTML or booktabs LaTeX: the one writer of each, shared by
``evalsuite leaderboard`` and ``evalsuite report``. The first column is the frame's index under
``index_name``; ``bold`` (same shape as the frame, True where a cell is best) marks cells."""

from __future__ import annotations

import html

import pandas as pd

#: Characters LaTeX treats as markup, and what prints them.
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$",
          "Δ": r"$\Delta$"}


def _rows(frame: pd.DataFrame, bold: pd.DataFrame | None):
    """(index label, [(column, text, is_bold)]) per row."""
    for idx, row in frame.iterrows():
        yield str(idx), [(c, str(v), bool(bold is not None and c in bold.columns and bold.at[idx, c]))
                         for c, v in row.items()]


def md_table(frame: pd.DataFrame, index_name: str | None, bold: pd.DataFrame | None = None) -> str:
    head = ([index_name] if index_name else []) + list(map(str, frame.columns))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for idx, cells in _rows(frame, bold):
        texts = [f"**{t}**" if b else t for _, t, b in cells]
        lines.append("| " + " | ".join(([idx] if index_name else []) + [t.replace("|", "\\|") for t in texts]) + " |")
    return "\n".join(lines) + "\n"


def html_table(frame: pd.DataFrame, table_id: str, index_name: str | None, bold: pd.DataFrame | None = None,
               row_class: pd.Series | None = None, cell_class=None) -> str:
    """``row_class``: index -> CSS class of the row; ``cell_class(column, text)``: a cell's class."""
    head = ([index_name] if index_name else []) + list(map(str, frame.columns))
    lines = [f'<table id="{html.escape(table_id)}">',
             "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for idx, cells in _rows(frame, bold):
        cls = f' class="{html.escape(str(row_class[idx]))}"' if row_class is not None else ""
        out = [f'<td class="text">{html.escape(idx)}</td>'] if index_name else []
        for column, text, is_bold in cells:
            klass = cell_class(column, text) if cell_class else ""
            body = f"<b>{html.escape(text)}</b>" if is_bold else html.escape(text)
            out.append(f'<td class="{klass}">{body}</td>' if klass else f"<td>{body}</td>")
        lines.append(f"<tr{cls}>" + "".join(out) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def latex_table(frame: pd.DataFrame, index_name: str | None, bold: pd.DataFrame | None = None) -> str:
    """A booktabs ``tabular`` (``\\usepackage{booktabs}``): text left, numbers right, no index row."""
    head = ([index_name] if index_name else []) + list(map(str, frame.columns))
    spec = ("l" if index_name else "") + "r" * len(frame.columns)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(map(latex_escape, head)) + r" \\", r"\midrule"]
    for idx, cells in _rows(frame, bold):
        texts = [rf"\textbf{{{latex_escape(t)}}}" if b else latex_escape(t) for _, t, b in cells]
        lines.append(" & ".join(([latex_escape(idx)] if index_name else []) + texts) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
