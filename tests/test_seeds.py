"""--seeds: one row per seed; the leaderboard averages seeds within one protocol and never across."""

from __future__ import annotations

import json

import pytest
import torch

from evalsuite.errors import EvalsuiteError
from evalsuite.leaderboard import build
from evalsuite.results import read_rows, write_row
from evalsuite.runner import REPO_ROOT, EvalRequest, evaluate, load_suite


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(results, name, seeds, **cfg):
    req = EvalRequest(checkpoint="random", arch="resnet_tiny", tasks=["knn", "lowshot"], datasets=["digits"],
                      results_dir=str(results), name=name, seeds=seeds, device="cpu", quiet=True,
                      cfg_options={"lowshot.shots": [2], "lowshot.fractions": [], "lowshot.headline": "k=2",
                                   "lowshot.draws": 2, "lowshot.wd_num": 3, "lowshot.max_iter": 30, **cfg})
    return evaluate(req)


def set_values(paths, values):
    for path, value in zip(paths, values):
        row = json.loads(path.read_text())
        row["value"] = value
        write_row(path, row)


def test_seeds_rows_and_leaderboard_cells(tmp_path):
    results = tmp_path / "results"
    written = run(results, "A", [0, 1, 2])
    rows = read_rows(results)
    assert len(written) == len(rows) == 6
    for task in ("knn", "lowshot"):
        mine = [r for r in rows if r["task"] == task]
        assert sorted(r["seed"] for r in mine) == [0, 1, 2]
        assert len({r["protocol_id"] for r in mine}) == 1
    lowshot = [r for r in rows if r["task"] == "lowshot"]
    assert len({tuple(r["extra"]["subsets"]["k=2"]["scores"]) for r in lowshot}) == 3  # each seed, new draws

    # hand-checkable cells: 50, 60, 70 -> mean 60.0, sample std 10.0, n 3
    set_values(sorted(p for p in written if "__knn__" in p.name), [0.5, 0.6, 0.7])
    means, display = build(read_rows(results))
    assert display.at["A", "digits/knn top1@20"] == "60.0 ± 10.0 (n=3)"
    assert means.at["A", "digits/knn top1@20"] == pytest.approx(60.0)  # percent
    # 95% Student-t interval: t(0.975, 2) = 4.303 x 10 / sqrt(3) = 24.8
    assert build(read_rows(results), spread="ci95")[1].at["A", "digits/knn top1@20"] == "60.0 ± 24.8 (95% CI, n=3)"
    with pytest.raises(EvalsuiteError, match="unknown spread 'sem'; valid spreads are: std, ci95"):
        build(read_rows(results), spread="sem")

    # another protocol setting (kNN temperature) for the same checkpoint, in another folder, and for a
    # second checkpoint: separate columns, and A's three seeds stay together in their own cell
    run(tmp_path / "results" / "t01", "A", [0], **{"knn.temperature": 0.1})
    run(tmp_path / "results" / "t01b", "B", [0, 1], **{"knn.temperature": 0.1})
    rows = read_rows(results)
    pids = {r["protocol_id"] for r in rows if r["task"] == "knn"}
    assert len(pids) == 2
    means, display = build(rows)
    knn_cols = sorted(c for c in display.columns if c.startswith("digits/knn top1@20"))
    assert len(knn_cols) == 2 and all("[" in c for c in knn_cols)
    cell = {c: display.at["A", c] for c in knn_cols}
    assert "60.0 ± 10.0 (n=3)" in cell.values()
    other = next(c for c in knn_cols if cell[c] != "60.0 ± 10.0 (n=3)")
    assert "(n=" not in display.at["A", other]  # one seed under T = 0.1: a plain number
    assert display.at["B", other].endswith("(n=2)")
    assert display.at["B", next(c for c in knn_cols if c != other)] == "-"


def test_suite_states_its_trials_and_the_command_line_overrides_them(tmp_path):
    suite = tmp_path / "two_trials.py"
    suite.write_text('_base_ = ["%s"]\ntasks = ["knn"]\ndatasets = ["digits"]\nseeds = [0, 1]\n'
                     % (REPO_ROOT / "tasks" / "default.py"))
    base = dict(checkpoint="random", arch="resnet_tiny", suite=str(suite), device="cpu", quiet=True)
    assert len(evaluate(EvalRequest(**base, results_dir=str(tmp_path / "a")))) == 2  # the suite's seeds
    assert len(evaluate(EvalRequest(**base, results_dir=str(tmp_path / "b"), seeds=[3]))) == 1
    with pytest.raises(EvalsuiteError, match=r"seeds \[-1\] are not valid; give one or more non-negative integers"):
        evaluate(EvalRequest(**base, results_dir=str(tmp_path / "c"), seeds=[-1]))
    assert not (tmp_path / "c").exists()
    assert load_suite(str(REPO_ROOT / "tasks" / "detection_voc_r50_c4.py"), {}).seeds == [0, 1, 2, 3, 4]  # MoCo: 5 trials
    assert load_suite(str(REPO_ROOT / "tasks" / "detection_short_r18_fpn.py"), {}).seeds == [0]
