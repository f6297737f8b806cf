"""evalsuite leaderboard: the results folder as one table."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalsuite.cliopts import add_comparison_arguments, results_dir

NAME = "leaderboard"
HELP = "print the leaderboard of a results folder (md, csv, json, html or latex)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_comparison_arguments(p, "add the published reference figures (results/published) as a separate block on the same columns")
    p.add_argument("--format", default="md", help="md, csv or json (tidy long form, percent), html or latex (booktabs)")
    p.add_argument("--spread", default="std", help="std (sample std over seeds) or ci95 (95%% Student-t interval)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    from evalsuite.leaderboard import full_leaderboard
    from evalsuite.atomic import output_file, write_text

    if args.output:
        output_file(args.output, "leaderboard file (-o)", f"leaderboard.{args.format}")
    results = results_dir(args.results)
    text = full_leaderboard(results, args.baseline, args.format, args.spread, args.published)
    if args.output:
        write_text(Path(args.output), text)
    else:
        print(text, end="")
    return 0
