"""``evalsuite report``: its numbers equal the result files, deltas/wins/ranks are right, the
HTML is self-contained and renders in headless Chromium, published figures stay separate."""

from __future__ import annotations

import base64
import html
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
    """Write plausible rows (2 seeds each); return the expected mean (%) per (checkpoint, column)."""
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
                expected[(label, f"{dataset}/{task} top1")] = float(100 * np.mean(values))
    return expected


class Tables(HTMLParser):
    """table id -> list of rows (lists of cell texts); the transfer table's value cells by
    (checkpoint, column) -> {span class: text}; img srcs; tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.transfer: dict[tuple[str, str], dict[str, str]] = {}
        self.bold: set[tuple[str, str]] = set()
        self.baseline_rows: list[str] = []
        self.order: list[str] = []  # checkpoints of the transfer table, top to bottom
        self.images: list[str] = []
        self.tags: set[str] = set()
        self._table = self._cell = self._ckpt = self._col = self._span = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
            self._ckpt = attrs.get("data-ckpt")
            if self._ckpt:
                self.order.append(self._ckpt)
            if "baseline" in (attrs.get("class") or ""):
                self.baseline_rows.append(self._ckpt)
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
            self._col = attrs.get("data-col")
            if self._ckpt and self._col:
                self.transfer[(self._ckpt, self._col)] = {}
        elif tag == "span" and self._col:
            self._span = attrs.get("class", "").split()[0]
        elif tag == "b" and self._col:
            self.bold.add((self._ckpt, self._col))
        elif tag == "img":
            self.images.append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = self._col = None
        elif tag == "span":
            self._span = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
            if self._col and self._span:
                self.transfer[(self._ckpt, self._col)][self._span] = data.strip()


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
    page = parse(out)
    for (label, column), mean in expected.items():
        cell = page.transfer[(label, column)]
        assert cell["v"] == f"{mean:.1f}" and cell["sd"] == "±0.6", (label, column, cell)
        if label == BASE:
            assert "d" not in cell
        else:
            assert cell["d"] == f"{mean - expected[(BASE, column)]:+.1f}", (label, column)
    assert ("byol-100ep", "dtd/knn top1") in page.transfer and page.transfer[("byol-100ep", "dtd/knn top1")] == {"v": "–"}
    columns = {c for _, c in expected}
    for column in columns:  # the best of each column is bold, and only it
        best = max(v for (_, c), v in expected.items() if c == column)
        assert {k for k, c in page.bold if c == column} == {k for (k, c), v in expected.items() if c == column and v == best}
    assert page.baseline_rows == [BASE]
    board = dict(zip(page.order, page.tables["transfer"][2:]))
    header = page.tables["transfer"][0]
    assert header[:4] == ["checkpoint", "knn · top1", "linear · top1", "wins"]
    assert page.tables["transfer"][1] == ["cifar10", "digits", "dtd"] * 2  # datasets grouped under their task
    for label in CHECKPOINTS:
        mine = [c for c in columns if (label, c) in expected]
        wins = sum(expected[(label, c)] > expected[(BASE, c)] for c in mine)
        assert board[label][-2] == ("baseline" if label == BASE else f"{wins}/{len(mine)}"), label
    assert board["simsiam-200ep"][-2] == "4/6" and board["byol-100ep"][-2] == "2/4"
    # mean rank: only over the columns every checkpoint has (byol has no dtd), 1 = best
    shared = [c for c in columns if not c.startswith("dtd")]
    for label in CHECKPOINTS:
        ranks = [1 + sum(expected[(o, c)] > expected[(label, c)] for o in CHECKPOINTS) for c in shared]
        assert page.transfer[(label, "mean rank")] == {} and board[label][-1] == f"{np.mean(ranks):.2f}", label
    assert board["random-r50"][-1] == "5.00"
    assert list(board) == sorted(board, key=lambda k: (float(board[k][-1]), k))  # sorted by mean rank


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


def _rows(folder: Path, spec: list[tuple]) -> None:
    """(label, task, dataset, value, epochs, method, seed) -> one result row each."""
    for label, task, dataset, value, epochs, method, seed in spec:
        write_row(row_path(folder, label, task, dataset, seed), {
            "schema_version": SCHEMA_VERSION, "task": task, "dataset": dataset, "seed": seed,
            "checkpoint": {"label": label, "kind": "ssl", "epochs": epochs, "method": method, "arch": "r50"},
            "metric": "AP" if task == "detection" else "top1@k=20", "value": value, "protocol_id": task})


def _summary(folder: Path, baseline=None):
    from evalsuite.report import summarize
    from evalsuite.results import read_rows

    return summarize(read_rows(folder), baseline)


def test_plots_only_where_they_carry_information(tmp_path):
    from evalsuite.report.plots import bar_panels, delta_heatmap, epoch_lines, figures

    # one checkpoint: nothing to compare, so no figure at all (and no figures heading)
    _rows(tmp_path / "one", [("a", "knn", "digits", 0.5, 100, "simsiam", 0)])
    assert figures(_summary(tmp_path / "one")) == {}
    out = tmp_path / "one.html"
    make_report(tmp_path / "one", out)
    assert "<img" not in out.read_text() and "Figures" not in out.read_text()

    # a detection-only checkpoint beside kNN ones: no one-bar AP panel, AP never on the kNN axis;
    # one epoch per method: no epoch lines; one checkpoint against the baseline: no heat map
    spec = [("a", "knn", "digits", 0.5, 100, "simsiam", 0), ("b", "knn", "digits", 0.6, 100, "byol", 0),
            ("a", "knn", "digits", 0.52, 100, "simsiam", 1), ("det", "detection", "voc:/x/BCCD", 0.4, None, "", 0)]
    _rows(tmp_path / "mixed", spec)
    s = _summary(tmp_path / "mixed", "a")
    assert [(task, cols) for task, cols in bar_panels(s)] == [("knn", ["digits/knn top1@20"])]
    assert epoch_lines(s) == {} and delta_heatmap(s) is None
    assert set(figures(s)) == {"bars"}
    from evalsuite.report.plots import _axis_label, _errors

    assert _axis_label(s, ["digits/knn top1@20"]) == "top1@20 (%)" and _axis_label(s, ["voc:BCCD/detection AP"]) == "AP (%)"
    assert list(_errors(s, ["a", "b"], "digits/knn top1@20")) == [pytest.approx(100 * np.std([0.5, 0.52], ddof=1)), 0.0]

    # two lengths of one method: an epoch line, in the column it was measured on only
    _rows(tmp_path / "mixed", [("a2", "knn", "digits", 0.55, 200, "simsiam", 0), ("c", "knn", "digits", 0.3, None, "", 0)])
    s = _summary(tmp_path / "mixed", "c")
    lines = epoch_lines(s)
    assert list(lines) == ["digits/knn top1@20"] and [name for name, _ in lines["digits/knn top1@20"]] == ["simsiam r50"]
    assert set(figures(s)) == {"bars", "deltas", "epochs"}


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
    assert set(page.order) == set(CHECKPOINTS)  # no published row among measured ones
    text = out.read_text()  # and they sit apart, after the measured table and figures, in their own box
    assert text.index('<section class="published">') > max(text.index('id="transfer"'), text.index('id="fig-epochs"'))
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
    assert f"| {expected[('simsiam-100ep', 'cifar10/linear top1')]:.1f} ± 0.6 (n=2) [-3.0] |" in line
    assert f"| {BASE} (baseline) |" in text
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


#: Run in the page after load: the page's width, the transfer table's, and images fully loaded.
PROBE = """<script>window.addEventListener("load", () => {
  const imgs = [...document.images];
  document.body.setAttribute("data-probe", JSON.stringify({
    page: document.documentElement.scrollWidth, table: document.getElementById("transfer").scrollWidth,
    published: Math.max(...["published", "published-grid"].map(id => document.getElementById(id).scrollWidth)),
    images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length}));
});</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_html_renders_in_headless_chromium_within_1280_px(results, tmp_path):
    """Eight datasets, seeds and a baseline (the widest cells) plus the published table."""
    import json

    folder, expected = results
    for label, (kind, method, epochs, accs) in CHECKPOINTS.items():
        for dataset in ("pets", "flowers", "cars", "aircraft", "food"):
            for seed in (0, 1, 2):
                write_row(row_path(folder, label, "linear", f"imagefolder:/data/{dataset}", seed), {
                    "schema_version": SCHEMA_VERSION, "task": "linear", "dataset": f"imagefolder:/data/{dataset}",
                    "seed": seed, "checkpoint": {"label": label, "kind": kind, "method": method, "epochs": epochs},
                    "metric": "top1", "value": 0.5 + 0.01 * seed, "protocol_id": "linear-protocol"})
    out = tmp_path / "report.html"
    make_report(folder, out, BASE, published=True)
    probed = tmp_path / "probed.html"
    probed.write_text(out.read_text().replace("</body>", PROBE))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--window-size=1280,1000", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", probed.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert probe["images"] == 3 and probe["loaded"] == 3, probe
    assert max(probe["page"], probe["table"], probe["published"]) <= 1280, probe  # no horizontal scrolling, not even inside
    assert "imagefolder:pets" in dom and f"{expected[('byol-100ep', 'cifar10/linear top1')]:.1f}" in dom
