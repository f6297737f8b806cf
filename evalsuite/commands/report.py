"""evalsuite report: leaderboard, deltas against a baseline and plots as one HTML (or Markdown) file."""

from __future__ import annotations

import argparse

from evalsuite.cliopts import add_comparison_arguments, results_dir

NAME = "report"
HELP = "write a comparison report (self-contained HTML or Markdown): leaderboard, Δ vs baseline, wins, mean rank, plots"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_comparison_arguments(p, "add the published reference figures (results/published) as a separate table")
    p.add_argument("--published-dir", help="folder of published reference CSV files (default results/published)")
    p.add_argument("--format", default="html", help="html (self-contained) or md (PNG figures written beside it)")
    p.add_argument("-o", "--output", required=True, help="report file, e.g. report.html")


def run(args: argparse.Namespace) -> int:
    from evalsuite.report import PUBLISHED_DIR, make_report

    written = make_report(results_dir(args.results), args.output, args.baseline, args.format, args.published,
                          args.published_dir or PUBLISHED_DIR)
    print(f"wrote {', '.join(map(str, written))}")
    return 0
