"""``evalsuite report``: the leaderboard with deltas against a baseline, win counts, mean rank
and matplotlib figures, as one self-contained HTML page (images embedded as base64) or Markdown
with the figures as PNG files beside it. Published reference figures, when asked for, are a
separate labelled table and never enter the measured table or the plots.

results folder -> rows -> ``summarize`` (tables.py) -> ``figures`` (plots.py) -> render.py -> file
"""

from __future__ import annotations

from pathlib import Path

from evalsuite.errors import EvalsuiteError
from evalsuite.report.published import PUBLISHED_DIR, load_published
from evalsuite.report.tables import Summary, summarize
from evalsuite.atomic import output_file, write_bytes, write_text
from evalsuite.results import read_rows

FORMATS = ("html", "md")

__all__ = ["FORMATS", "PUBLISHED_DIR", "Summary", "make_report", "summarize"]


def make_report(results_dir: str | Path, output: str | Path, baseline: str | None = None, fmt: str = "html",
                published: bool = False, published_dir: str | Path = PUBLISHED_DIR) -> list[Path]:
    """Write the report to ``output`` (and, for Markdown, its PNG figures beside it).

    Everything is computed before the first write, so an unknown baseline, empty results or a
    bad published file leaves nothing behind. Returns the files written, the report first.
    """
    from evalsuite.report.plots import figures
    from evalsuite.report.render import to_html, to_markdown
    from evalsuite.zoo.compare import delta_table

    if fmt not in FORMATS:
        raise EvalsuiteError(f"unknown report format {fmt!r}; valid formats are: {', '.join(FORMATS)}")
    output_file(output, "report file (-o)", f"report.{fmt}")
    rows = read_rows(results_dir)
    if not rows:
        raise EvalsuiteError(f"no result rows in {str(results_dir)!r}; run 'evalsuite eval' first or point --results at a results folder")
    summary = summarize(rows, baseline)
    reference = load_published(published_dir) if published else None
    figs = figures(summary)
    zoo = delta_table(rows)  # zoo checkpoints: measured minus published, per cell
    zoo = None if zoo.empty else zoo
    output = Path(output)
    if fmt == "html":
        return [write_text(output, to_html(summary, figs, reference, str(results_dir), zoo))]
    images = {name: (caption, f"{output.stem}_{name}.png") for name, (caption, _) in figs.items()}
    text = to_markdown(summary, images, reference, str(results_dir), zoo)
    written = []
    for name, (_, png) in figs.items():
        path = output.with_name(images[name][1])
        write_bytes(path, png)
        written.append(path)
    return [write_text(output, text), *written]
