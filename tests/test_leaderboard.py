"""The leaderboard's names and formats: short dataset labels, the metric in every column name,
mean rank over shared columns only, tidy CSV/JSON in percent with std, n and ci95, booktabs LaTeX
and HTML without pandas' index row, best of each column in bold."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from evalsuite.cli import main
from evalsuite.datasets.voc import LABEL_PROTOCOL
from evalsuite.leaderboard import TIDY, build, dataset_labels, protocol_labels
from evalsuite.results import SCHEMA_VERSION, read_rows, row_path, write_row


def _write(folder, label, task, dataset, values, metric="top1@k=20"):
    for seed, value in enumerate(values):
        write_row(row_path(folder, label, task, dataset, seed), {
            "schema_version": SCHEMA_VERSION, "checkpoint": {"label": label}, "task": task, "dataset": dataset,
            "seed": seed, "metric": metric, "value": value, "protocol_id": task})


@pytest.fixture
def board(tmp_path):
    """a and b on kNN over an image folder and CIFAR-10; 'det' only on detection (it scores 0.9)."""
    _write(tmp_path, "a", "knn", "imagefolder:/home/u/data/pets", [0.80, 0.82, 0.84])
    _write(tmp_path, "b", "knn", "imagefolder:/home/u/data/pets", [0.70])
    _write(tmp_path, "a", "knn", "cifar10", [0.60])
    _write(tmp_path, "b", "knn", "cifar10", [0.65])
    _write(tmp_path, "det", "detection", "voc:/tmp/bccd/BCCD", [0.9], metric="AP")
    return tmp_path


def test_labels_are_short_stable_and_unambiguous():
    assert dataset_labels(["cifar10", "imagefolder:/a/x/pets", "imagefolder:/b/flowers/"]) == {
        "cifar10": "cifar10", "imagefolder:/a/x/pets": "imagefolder:pets", "imagefolder:/b/flowers/": "imagefolder:flowers"}
    two = dataset_labels(["imagefolder:/a/x/pets", "imagefolder:/b/y/pets"])
    assert two == {"imagefolder:/a/x/pets": "imagefolder:x/pets", "imagefolder:/b/y/pets": "imagefolder:y/pets"}
    assert dataset_labels(["coco:/d/annotations/instances_val2017.json:/d/val2017"]) == {
        "coco:/d/annotations/instances_val2017.json:/d/val2017": "coco:instances_val2017"}


def test_columns_name_their_metric_and_rank_only_shared_columns(board):
    from evalsuite.results import read_rows

    means, display = build(read_rows(board), baseline="b")
    assert {"imagefolder:pets/knn top1@20", "cifar10/knn top1@20", "voc:BCCD/detection AP"} <= set(means.columns)
    # 'det' was measured on one column nobody else has: shown, not ranked (it would tie for first)
    assert means.loc["a", "mean rank"] == 1.5 and means.loc["b", "mean rank"] == 1.5
    assert pd.isna(means.loc["det", "mean rank"]) and display.loc["det", "mean rank"] == "-"
    assert list(means.index)[-1] == "det"
    assert display.loc["a", "imagefolder:pets/knn top1@20"] == "82.0 ± 2.0 (n=3)"


def test_csv_and_json_are_tidy_percent_with_spread(board, capsys):
    assert main(["leaderboard", "--results", str(board), "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert tuple(table.columns) == TIDY
    a = table[(table.checkpoint == "a") & (table.dataset == "imagefolder:pets")].iloc[0]
    assert (a.task, a.metric, a.n, a.protocol_id) == ("knn", "top1@20", 3, "knn")
    assert a["mean"] == pytest.approx(82.0) and a["std"] == pytest.approx(2.0)
    assert a["ci95"] == pytest.approx(4.303 * 2.0 / 3 ** 0.5, abs=1e-3)  # t(0.975, 2) x std / sqrt(n)
    assert a.dataset_source == "imagefolder:/home/u/data/pets"
    assert main(["leaderboard", "--results", str(board), "--format", "json", "--baseline", "b"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unit"] == "percent" and data["baseline"] == "b" and len(data["cells"]) == 5
    assert sorted(data["rank_columns"]) == ["cifar10/knn top1@20", "imagefolder:pets/knn top1@20"]
    assert {r["checkpoint"]: r["mean_rank"] for r in data["ranking"]} == {"a": 1.5, "b": 1.5, "det": None}


def test_latex_html_md_are_clean_and_bold_the_best(board, capsys):
    assert main(["leaderboard", "--results", str(board), "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    lines = tex.splitlines()
    assert lines[0] == r"\begin{tabular}{lrrrr}" and lines[1] == r"\toprule" and lines[3] == r"\midrule"
    assert lines[2].startswith("checkpoint & ") and r"\bottomrule" in lines
    assert r"a & 60.0 & \textbf{82.0 $\pm$ 2.0 (n=3)} & - & 1.50 \\" in tex and r"\textbf{90.0}" not in tex  # a lone value is no "best"
    assert main(["leaderboard", "--results", str(board), "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.count("<tr>") == 4 and "<th>checkpoint</th>" in page and "<th></th>" not in page
    assert "<td><b>82.0 ± 2.0 (n=3)</b></td>" in page
    assert main(["leaderboard", "--results", str(board), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| a | **65.0**" not in md and "| b | **65.0** |" in md and "not ranked: det" in md


def test_columns_of_two_protocols_say_how_they_differ(tmp_path):
    """Rows of one dataset and task under two transforms never share a cell, and the two column
    headers name the setting that differs, not an opaque hash; a difference too long to read
    falls back to the protocol id."""
    for label, transform, pid in (("a", "native32", "p1"), ("b", "resize256-crop224", "p2")):
        write_row(row_path(tmp_path, label, "knn", "cifar10", 0, pid), {
            "schema_version": SCHEMA_VERSION, "checkpoint": {"label": label}, "task": "knn", "dataset": "cifar10",
            "seed": 0, "metric": "top1@k=20", "value": 0.5, "protocol_id": pid, "transform": transform,
            "precision": "fp32", "settings": {"k": [20], "temperature": 0.07}})
    means, _ = build(list(read_rows(tmp_path)))
    assert sorted(c for c in means.columns if c != "mean rank") == [
        "cifar10/knn top1@20 [transform=native32]", "cifar10/knn top1@20 [transform=resize256-crop224]"]
    long = {"p1": json.dumps({"lrs": list(range(30))}), "p2": json.dumps({"lrs": [1]})}
    assert protocol_labels(long) == {"p1": "p1", "p2": "p2"}


def test_voc_rows_before_and_after_difficult_pairs_were_ignored_stay_apart(tmp_path):
    """A VOC row made when difficult-only pairs were negatives has no label protocol and another
    protocol id: its column says so instead of pooling it with the new rows' 11-point mAP."""
    for label, extra, pid in (("old", {}, "p1"), ("new", {"label_protocol": LABEL_PROTOCOL}, "p2")):
        write_row(row_path(tmp_path, label, "linear", "voc2007", 0, pid), {
            "schema_version": SCHEMA_VERSION, "checkpoint": {"label": label}, "task": "linear", "dataset": "voc2007",
            "seed": 0, "metric": "map11", "value": 0.5, "protocol_id": pid, "transform": "resize256-crop224",
            "precision": "fp32", "settings": {"wd_num": 45}, **extra})
    means, _ = build(list(read_rows(tmp_path)))
    assert {c for c in means.columns if c != "mean rank"} == {
        f"voc2007/linear map11 [label_protocol={LABEL_PROTOCOL}]", "voc2007/linear map11 [label_protocol=-]"}


def test_files_that_are_not_rows_are_named_and_the_rest_is_shown(board, capsys):
    """A half-written row, another program's JSON and a row of another schema version are left
    out with one warning line each naming the file; evalsuite's own state in hidden folders
    (a sweep's manifest) is not a row and is passed over without a word."""
    half = board / "c__knn__cifar10__seed0.json"
    half.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "checkpoint": {"label": "c"}})[:40])
    (board / "notes.json").write_text(json.dumps({"comment": "my notes"}))
    (board / "future.json").write_text(json.dumps({"schema_version": 99, "value": 0.5}))
    (board / ".sweep").mkdir()
    (board / ".sweep" / "manifest.json").write_text(json.dumps({"jobs": []}))
    assert main(["leaderboard", "--results", str(board)]) == 0
    out = capsys.readouterr()
    warnings = out.err.strip().splitlines()
    assert warnings == [
        f"evalsuite: warning: left out {str(half)!r} (not valid JSON: a half-written or damaged file); "
        "the 7 row(s) read are shown",
        f"evalsuite: warning: left out {str(board / 'future.json')!r} (a row of schema version 99; this evalsuite "
        f"reads version {SCHEMA_VERSION}); the 7 row(s) read are shown",
        f"evalsuite: warning: left out {str(board / 'notes.json')!r} (JSON but not a result row (no schema_version)); "
        "the 7 row(s) read are shown"]
    assert "cifar10/knn" in out.out and "| a " in out.out  # the readable rows are still the table
    assert read_rows(board, warn=False) and capsys.readouterr().err == ""
