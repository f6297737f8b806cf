"""``evalsuite report``: its numbers equal the result files, deltas/wins/ranks are right, the
HTML is self-contained and renders in headless Chromium, published figures stay separate."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from evalsuite.report import make_report
from evalsuite.report.published import PUBLISHED_DIR, load_published
from evalsuite.results import SCHEMA_VERSION, row_path, write_row

BASE = "supervised-r50"
# label -> (kind, method, epochs, {dataset: linear accuracy}); knn is 3 points lower, seeds +-0.4
CHECKPOINTS = {
    BASE: ("supervised", "supervised ImageNet", None, {"cifar10": 0.91, "digits": 0.97, "dtd": 0.70}),
    "simsiam-100ep": ("ssl", "simsiam", 100, {"cifar10": 0.88, "digits": 0.95, "dtd": 0.72}),
    "simsiam-200ep": ("ssl", "simsiam", 200, {"cifar10": 0.905, "digits": 0.985, "dtd": 0.735}),
    "byol-100ep": ("ssl", "byol", 100, {"cifar10": 0.915, "digits": 0.96}),
    "random-r50": ("random", "random init", None, {"cifar10": 0.40, "digits": 0.80, "dtd": 0.15}),
}
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def fabricate(results: Path) -> dict[tuple[str, str], float]:
    """Write plausible rows (2 seeds each); return the expected mean per (checkpoint, column)."""
    expected = {}
    for label, (kind, method, epochs, accs) in CHECKPOINTS.items():
        for dataset, acc in accs.items():
            for task, offset in (("knn", -0.03), ("linear", 0.0)):
                values = [acc + offset - 0.004, acc + offset + 0.004]
                for seed, value in enumerate(values):
                    write_row(row_path(results, label, task, dataset, seed), {
                        "schema_version": SCHEMA_VERSION, "task": task, "dataset": dataset, "seed": seed,
                        "checkpoint": {"label": label, "kind": kind, "method": method, "epochs": epochs, "arch": "resnet50"},
                        "metric": "top1", "value": value, "protocol_id": f"{task}-protocol",
                    })
                expected[(label, f"{dataset}/{task}")] = float(np.mean(values))
    return expected


class Tables(HTMLParser):
    """table id -> list of rows (lists of cell texts); img srcs; tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.tags: set[str] = set()
        self._table = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Tables:
    parser = Tables()
    parser.feed(path.read_text())
    return parser


def as_records(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *body = rows
    return {r[0]: dict(zip(header, r)) for r in body}


@pytest.fixture
def results(tmp_path) -> tuple[Path, dict]:
    folder = tmp_path / "runs"
    return folder, fabricate(folder)


def test_html_numbers_deltas_and_wins_match_the_result_files(results, tmp_path):
    folder, expected = results
    out = tmp_path / "report.html"
    assert main(["report", "--results", str(folder), "--baseline", BASE, "-o", str(out)]) == 0
    board = as_records(parse(out).tables["leaderboard"])
    assert set(board) == set(CHECKPOINTS)
    for (label, column), mean in expected.items():
        assert board[label][column] == f"{100 * mean:.1f} ± 0.6 (n=2)", (label, column)
        delta = 100 * (mean - expected[(BASE, column)])
        assert board[label][f"Δ {column}"] == f"{delta:+.1f}", (label, column)
    columns = {c for _, c in expected}
    for label in CHECKPOINTS:
        if label == BASE:
            assert board[label][f"beats {BASE}"] == "baseline"
            continue
        mine = [c for c in columns if (label, c) in expected]
        wins = sum(expected[(label, c)] > expected[(BASE, c)] for c in mine)
        assert board[label][f"beats {BASE}"] == f"{wins}/{len(mine)}"
    assert board["simsiam-200ep"]["beats " + BASE] == "4/6" and board["byol-100ep"]["beats " + BASE] == "2/4"
    for label in CHECKPOINTS:  # rank 1 = best among the checkpoints measured on that column, averaged
        ranks = [1 + sum(v > expected[(label, c)] for (other, c2), v in expected.items() if c2 == c)
                 for c in columns if (label, c) in expected]
        assert board[label]["mean rank"] == f"{np.mean(ranks):.2f}", label
    assert board["random-r50"]["mean rank"] == "4.67"  # last of 5 on cifar10/digits, of 4 on dtd
    assert list(board)[0] == "simsiam-200ep" and board["simsiam-100ep"]["epochs"] == "100"


def test_html_is_self_contained_with_all_three_plots(results, tmp_path):
    folder, _ = results
    out = tmp_path / "r.html"
    make_report(folder, out, BASE)
    page = parse(out)
    assert not {"script", "link", "iframe"} & page.tags
    assert len(page.images) == 3 and not re.search(r'src="(?!data:)', out.read_text())
    for src in page.images:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(f'id="fig-{name}"' in out.read_text() for name in ("bars", "deltas", "epochs"))


def test_epochs_plot_only_when_rows_have_epochs_and_deltas_only_with_a_baseline(tmp_path):
    folder = tmp_path / "runs"
    for label in ("a", "b"):
        for seed in (0,):
            write_row(row_path(folder, label, "knn", "digits", seed), {
                "schema_version": SCHEMA_VERSION, "task": "knn", "dataset": "digits", "seed": seed,
                "checkpoint": {"label": label, "kind": "ssl"}, "metric": "top1", "value": 0.5 if label == "a" else 0.6})
    out = tmp_path / "r.html"
    make_report(folder, out)
    text = out.read_text()
    assert 'id="fig-bars"' in text and 'id="fig-deltas"' not in text and 'id="fig-epochs"' not in text
    assert as_records(parse(out).tables["leaderboard"])["b"]["digits/knn"] == "60.0"


def test_published_figures_are_a_separate_labelled_table(results, tmp_path):
    folder, _ = results
    out = tmp_path / "r.html"
    make_report(folder, out, BASE, published=True)
    page = parse(out)
    published = load_published()
    header, *rows = page.tables["published"]
    assert len(rows) == len(published)
    by_method = {(r[header.index("method")], r[header.index("arch")]): r[header.index("value")] for r in rows}
    assert by_method[("SimSiam", "resnet50")] == "68.1" and by_method[("NNCLR", "resnet50")] == "75.6"
    assert set(as_records(page.tables["leaderboard"])) == set(CHECKPOINTS)  # no published row among measured ones
    assert "not measured by this project" in out.read_text()


def test_published_csv_rows_carry_their_provenance():
    table = load_published(PUBLISHED_DIR)
    assert len(table) >= 5
    for column in ("paper", "table", "protocol", "arch", "verified", "source_url"):
        assert table[column].astype(str).str.strip().ne("").all(), column
    assert table["value"].between(0, 100).all()


def test_bad_published_file_is_refused(tmp_path):
    (tmp_path / "x.csv").write_text("method,value\nSimSiam,68.1\n")
    with pytest.raises(EvalsuiteError, match="lacks column"):
        load_published(tmp_path)


def test_markdown_report_with_figures_beside_it(results, tmp_path):
    folder, expected = results
    out = tmp_path / "md" / "report.md"
    written = make_report(folder, out, BASE, fmt="md", published=True)
    assert written[0] == out and {p.name for p in written[1:]} == {"report_bars.png", "report_deltas.png", "report_epochs.png"}
    text = out.read_text()
    line = next(l for l in text.splitlines() if l.startswith("| simsiam-100ep |"))
    assert f"| {100 * expected[('simsiam-100ep', 'cifar10/linear')]:.1f} ± 0.6 (n=2) | -3.0 |" in line
    assert "![" in text and "(report_bars.png)" in text and "Published reference figures" in text


def test_unknown_baseline_and_empty_results_are_clear_errors_and_write_nothing(results, tmp_path, capsys):
    folder, _ = results
    out = tmp_path / "r.html"
    with pytest.raises(EvalsuiteError, match="baseline 'nope' is not a checkpoint.*supervised-r50"):
        make_report(folder, out, "nope")
    with pytest.raises(EvalsuiteError, match="no result rows in"):
        make_report(tmp_path / "empty", out)
    with pytest.raises(EvalsuiteError, match="valid formats are: html, md"):
        make_report(folder, out, fmt="pdf")
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))
    assert main(["report", "--results", str(folder), "--baseline", "nope", "-o", str(out)]) == 2
    assert "evalsuite: error: baseline 'nope'" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_html_renders_in_headless_chromium(results, tmp_path):
    import matplotlib.image as mpimg

    folder, expected = results
    out = tmp_path / "report.html"
    make_report(folder, out, BASE, published=True)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1400,1600", out.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = mpimg.imread(shot)[..., :3]  # H x W x 3 in [0, 1]
    assert pixels.shape[:2] == (1600, 1400)
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation > 0.4).mean() > 0.01, "no coloured plot pixels: the embedded images did not render"
    dom = subprocess.run([*flags, "--dump-dom", out.as_uri()], check=True, capture_output=True, text=True, timeout=120).stdout
    assert 'id="leaderboard"' in dom and f"{100 * expected[('byol-100ep', 'cifar10/linear')]:.1f} ± 0.6 (n=2)" in dom
