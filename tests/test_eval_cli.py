"""``evalsuite eval`` end to end on digits: rows, cache, bad input, concurrent writers, leaderboard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evalsuite.archs import build_backbone
from evalsuite.cache import FeatureCache, FeatureKey, entries
from evalsuite.cli import main
from evalsuite.results import read_rows

FAST = ["--arch", "resnet_tiny", "--quiet", "--cfg-options", "linear.wd_num=6", "linear.wd_start=-2", "linear.wd_stop=3"]


def _rows(results: Path) -> list[dict]:
    return read_rows(results)


def test_random_eval_writes_one_row_per_task(tmp_path, capsys):
    results = tmp_path / "res"
    assert main(["eval", "random", "--results", str(results), *FAST]) == 0
    rows = {r["task"]: r for r in _rows(results)}
    assert set(rows) == {"knn", "linear"}
    knn, linear = rows["knn"], rows["linear"]
    assert knn["metric"] == "top1@k=20" and set(knn["metrics"]) == {f"top1@k={k}" for k in (10, 20, 100, 200)}
    assert knn["settings"]["temperature"] == 0.07
    assert linear["chosen"]["wd"] in [pytest.approx(10.0 ** e) for e in (-2, -1, 0, 1, 2, 3)]
    assert linear["extra"]["split"]["val_source"].startswith("stratified 20%")
    assert linear["extra"]["split"]["sizes"] == {"train": 1005, "val": 252, "test": 540}
    for row in rows.values():
        assert row["checkpoint"]["label"] == "random-resnet_tiny" and row["checkpoint"]["kind"] == "random"
        assert 0.3 < row["value"] <= 1.0 and row["device"] == "cpu" and row["versions"]["torch"]
    assert not list(results.glob(".*tmp"))


def test_second_run_hits_the_feature_cache(tmp_path, isolated_cache, monkeypatch):
    import evalsuite.features as features

    calls = []
    real = features.extract_into
    monkeypatch.setattr(features, "extract_into", lambda *a, **k: calls.append(1) or real(*a, **k))
    args = ["eval", "random", "--results", str(tmp_path / "r"), "--tasks", "knn", *FAST]
    assert main(args) == 0 and len(calls) == 2  # train + test
    assert main([*args[:5], "linear", *args[6:]]) == 0
    assert len(calls) == 2, "the linear probe re-extracted features that were cached"
    assert len(list(isolated_cache.glob("shards/*/key.json"))) == 2


def test_decoded_images_are_shared_by_checkpoints_and_match_streaming(tmp_path, isolated_cache, monkeypatch):
    from evalsuite.datasets import build_dataset
    from evalsuite.extraction import extract
    from evalsuite.imaging import Transformed
    from evalsuite.preprocess import eval_transform

    args = ["eval", "random", "--results", str(tmp_path / "r"), "--tasks", "knn", *FAST]
    assert main(args) == 0
    decoded = sorted(isolated_cache.glob("decoded/*.npy"))
    assert len(decoded) == 2  # train and test, decoded once
    calls = []
    real = Transformed.__getitem__
    monkeypatch.setattr(Transformed, "__getitem__", lambda self, i: calls.append(i) or real(self, i))
    assert main([*args, "--seed", "1", "--name", "other"]) == 0
    assert calls == [], "a second checkpoint decoded the images again"
    assert sorted(isolated_cache.glob("decoded/*.npy")) == decoded
    # the decoded path gives the same features as streaming through the transform
    monkeypatch.setattr(Transformed, "__getitem__", real)
    rows = {r["checkpoint"]["label"]: r for r in _rows(tmp_path / "r")}
    torch.manual_seed(1)
    model = build_backbone("resnet_tiny")
    spec = build_dataset("digits")
    transform, _ = eval_transform(spec.native_size, True)
    streamed, _ = extract(model, Transformed(spec.splits["test"], transform), torch.device("cpu"), quiet=True)
    cached = [e.key for e in entries(isolated_cache)
              if e.key.get("checkpoint_sha256") == "random-seed1" and e.key["split"] == "test"]
    (key,) = cached
    torch.testing.assert_close(FeatureCache(isolated_cache).get(FeatureKey(**key))[0], streamed)
    assert rows["other"]["seed"] == 1


def test_corrupted_cache_entry_is_recomputed(tmp_path, isolated_cache, monkeypatch):
    import numpy as np

    import evalsuite.features as features

    calls = []
    real = features.extract_into
    monkeypatch.setattr(features, "extract_into", lambda *a, **k: calls.append(1) or real(*a, **k))
    args = ["eval", "random", "--results", str(tmp_path / "r"), "--tasks", "knn", *FAST]
    assert main(args) == 0 and len(calls) == 2  # train + test
    shards = sorted(isolated_cache.glob("shards/*/*.features.npy"))
    first = {f: np.load(f) for f in shards}
    assert len(first) == 2
    (before,) = _rows(tmp_path / "r")
    for f in shards:
        f.write_bytes(f.read_bytes()[:50])
    assert main(args) == 0
    assert len(calls) == 4, "a truncated cache entry was not extracted again"
    for f in shards:  # rewritten whole, with the features the first run computed
        np.testing.assert_array_equal(np.load(f), first[f])
    (after,) = _rows(tmp_path / "r")  # the same protocol: the row is replaced
    assert after["value"] == before["value"]


def test_pretrain_checkpoint_is_labelled_by_recipe_and_epochs(tmp_path):
    from evalsuite.checkpoint import save_backbone

    save_backbone(tmp_path / "backbone.pth", build_backbone("resnet_tiny").state_dict(), arch="resnet_tiny",
                  recipe="simsiam_digits_tiny", epochs=20)
    assert main(["eval", str(tmp_path / "backbone.pth"), "--results", str(tmp_path / "r"), "--tasks", "knn", "--quiet"]) == 0
    (row,) = _rows(tmp_path / "r")
    assert row["checkpoint"]["label"] == "simsiam_digits_tiny-20ep"
    # a recipe run with another arch (--cfg-options method.arch=...) says so in its label
    save_backbone(tmp_path / "other" / "backbone.pth", build_backbone("resnet_tiny").state_dict(), arch="resnet_tiny",
                  recipe="simsiam_cifar10_resnet18", epochs=1)
    assert main(["eval", str(tmp_path / "other" / "backbone.pth"), "--results", str(tmp_path / "r2"), "--tasks", "knn",
                 "--quiet"]) == 0
    (row,) = _rows(tmp_path / "r2")
    assert row["checkpoint"]["label"] == "simsiam_cifar10_resnet18-1ep-resnet_tiny"
    # the trainer records the recipe's own arch, so an ImageNet-stem resnet18 from the CIFAR recipe
    # (whose arch is cifar_resnet18) is told apart too
    save_backbone(tmp_path / "third" / "backbone.pth", build_backbone("resnet_tiny").state_dict(), arch="resnet_tiny",
                  recipe="simsiam_tiny_resnet_tiny", recipe_arch="cifar_resnet18", epochs=1)
    assert main(["eval", str(tmp_path / "third" / "backbone.pth"), "--results", str(tmp_path / "r3"), "--tasks", "knn",
                 "--quiet"]) == 0
    (row,) = _rows(tmp_path / "r3")
    assert row["checkpoint"]["label"] == "simsiam_tiny_resnet_tiny-1ep-resnet_tiny"


def test_checkpoint_file_without_flags(tmp_path):
    from evalsuite.checkpoint import save_backbone

    torch.manual_seed(1)
    save_backbone(tmp_path / "mine.pth", build_backbone("resnet_tiny").state_dict(), arch="resnet_tiny", method="simsiam", epochs=3)
    results = tmp_path / "res"
    assert main(["eval", str(tmp_path / "mine.pth"), "--results", str(results), "--tasks", "knn", "--quiet"]) == 0
    (row,) = _rows(results)
    ck = row["checkpoint"]
    assert (ck["label"], ck["format"], ck["arch"], ck["method"], ck["epochs"]) == ("mine", "evalsuite", "resnet_tiny", "simsiam", 3)
    assert len(ck["sha256"]) == 64


@pytest.mark.parametrize("argv, message", [
    (["eval", "random", "--arch", "resnet_tiny", "--datasets", "cifar11"], "unknown dataset 'cifar11'; valid datasets are: aircraft"),
    (["eval", "random", "--arch", "resnet_tiny", "--tasks", "knn,svm"], "unknown task 'svm'; valid tasks are:"),
    (["eval", "random", "--arch", "resnet9"], "unknown arch 'resnet9'; valid archs are: cifar_resnet18"),
    (["eval", "random"], "needs --arch"),
    (["eval", "nope.pth"], "'nope.pth' does not exist"),
    (["eval", "random", "--arch", "resnet_tiny", "--datasets", "cifar10", "--data-root", "/nonexistent"],
     "'cifar10' was not found under /nonexistent; pass --data-root DIR where it is, or --download"),
    (["eval", "random", "--arch", "resnet_tiny", "--cfg-options", "knn.tempreature=0.1"], "task 'knn' has no setting 'tempreature' (did you mean knn.temperature?); valid settings are:"),
    (["eval", "random", "--arch", "resnet_tiny", "--device", "tpu"], "unknown device 'tpu'"),
    (["eval", "random", "--arch", "resnet_tiny", "--seeds", "0,x"], "--seeds '0,x' is not a comma-separated list"),
    (["eval", "random", "--arch", "resnet_tiny", "--datasets", "imagefolder:/nonexistent"], "has no train/ directory"),
    (["eval", "random", "--arch", "resnet_tiny", "--suite", "tasks/none.py"], "suite 'tasks/none.py' does not exist"),
])
def test_bad_input_is_one_sentence_and_writes_nothing(tmp_path, capsys, argv, message):
    results = tmp_path / "res"
    assert main([*argv, "--results", str(results), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalsuite: error: ") and message in err and "\n" not in err and "Traceback" not in err
    assert not results.exists() or not any(results.rglob("*.json"))


def test_truncated_checkpoint_writes_no_result(tmp_path, capsys):
    torch.save(build_backbone("resnet_tiny").state_dict(), tmp_path / "ok.pth")
    (tmp_path / "bad.pth").write_bytes((tmp_path / "ok.pth").read_bytes()[:-200])
    assert main(["eval", str(tmp_path / "bad.pth"), "--results", str(tmp_path / "res"), "--quiet"]) == 2
    assert "truncated" in capsys.readouterr().err
    assert not [p for p in (tmp_path / "res").rglob("*") if p.is_file()]  # the folder was proven writable, no file


def test_debug_shows_the_traceback(tmp_path):
    from evalsuite.errors import EvalsuiteError

    with pytest.raises(EvalsuiteError):
        main(["--debug", "eval", "random", "--results", str(tmp_path)])


def test_concurrent_writers_lose_nothing(tmp_path):
    results = tmp_path / "shared"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "evalsuite", "eval", "random", "--results", str(results),
                               "--name", f"run{i}", "--seeds", "0,1", *FAST], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for i in range(3)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()
    rows = _rows(results)
    assert len(rows) == 3 * 2 * 2  # labels x seeds x tasks
    for path in results.glob("*.json"):
        json.loads(path.read_text())
    assert not [p for p in results.iterdir() if p.name.startswith(".")]


def test_inspect_reports_keys(tmp_path, capsys):
    sd = build_backbone("resnet_tiny").state_dict()
    torch.save({"module." + k: v for k, v in sd.items()}, tmp_path / "d.pth")
    assert main(["inspect", str(tmp_path / "d.pth"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    n = sum(not k.endswith("num_batches_tracked") for k in sd)
    assert (info["format"], info["arch"], info["missing"], info["unexpected"]) == ("structural", "resnet_tiny", 0, 0)
    assert info["matched"] == n and info["loaded"] == f"top level -> strip 'module.' -> {n}/{n} backbone tensors"


def test_leaderboard_ranks_and_deltas(tmp_path, capsys):
    from evalsuite.leaderboard import build
    from evalsuite.results import write_row

    def row(label, dataset, value, seed=0):
        return {"schema_version": 1, "checkpoint": {"label": label}, "task": "linear", "dataset": dataset,
                "metric": "top1", "value": value, "seed": seed, "protocol_id": "p"}

    for i, (label, d, v) in enumerate([("a", "x", 0.9), ("b", "x", 0.8), ("a", "y", 0.5), ("b", "y", 0.7)]):
        write_row(tmp_path / f"{i}.json", row(label, d, v))
    means, display = build(read_rows(tmp_path), baseline="b")
    assert means.loc["a", "mean rank"] == 1.5 and means.loc["b", "mean rank"] == 1.5
    assert means.loc["a", "Δ x/linear top1"] == pytest.approx(10.0) and display.loc["a", "Δ y/linear top1"] == "-20.0"
    assert main(["leaderboard", "--results", str(tmp_path), "--format", "csv", "-o", str(tmp_path / "lb.csv")]) == 0
    assert "a,x,linear,top1,90.0000" in (tmp_path / "lb.csv").read_text()
    assert main(["leaderboard", "--results", str(tmp_path), "--baseline", "zz"]) == 2
    assert "baseline 'zz' is not a checkpoint" in capsys.readouterr().err


def test_other_settings_add_rows_and_skip_existing_skips_same_protocol(tmp_path, monkeypatch):
    import evalsuite.runner as runner

    results = tmp_path / "r"
    base = ["eval", "random", "--results", str(results), "--tasks", "knn", "--arch", "resnet_tiny", "--quiet"]
    assert main(base) == 0
    assert main([*base, "--cfg-options", "knn.temperature=0.1"]) == 0
    assert sorted(r["settings"]["temperature"] for r in _rows(results)) == [0.07, 0.1]
    ran = []
    monkeypatch.setattr(runner, "write_row", lambda path, row: ran.append(path))
    assert main([*base, "--skip-existing"]) == 0 and ran == []
    assert main([*base, "--skip-existing", "--cfg-options", "knn.temperature=0.2"]) == 0 and len(ran) == 1


@pytest.mark.parametrize("fmt, marker", [("md", "| a | 90.0"), ("html", "<td>90.0</td>"), ("latex", "a & 90.0"), ("csv", "a,x,linear,top1,90.0000")])
def test_leaderboard_formats(tmp_path, capsys, fmt, marker):
    from evalsuite.results import write_row

    write_row(tmp_path / "a.json", {"schema_version": 1, "checkpoint": {"label": "a"}, "task": "linear", "dataset": "x",
                                    "metric": "top1", "value": 0.9, "seed": 0, "protocol_id": "p"})
    assert main(["leaderboard", "--results", str(tmp_path), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert marker in out and ("x/linear top1" in out or fmt == "csv") and "column" not in out


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`evalsuite list archs | head -1`: the pipe closes before evalsuite writes; no traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "evalsuite", "list", "archs"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait() == 141, err
    assert "Traceback" not in err and "Error" not in err


def test_nonfinite_features_are_one_sentence_and_nothing_is_cached(tmp_path, capsys, isolated_cache):
    """A checkpoint let through with a NaN weight (--allow-nonfinite) gives NaN features: refused
    with the count of images and the cause before any probe, with no row and no feature-cache entry."""
    from evalsuite.checkpoint import save_backbone

    sd = build_backbone("resnet_tiny").state_dict()
    sd["conv1.weight"][0, 0, 0, 0] = float("nan")
    save_backbone(tmp_path / "nan.pth", sd, arch="resnet_tiny")
    results = tmp_path / "res"
    argv = ["eval", str(tmp_path / "nan.pth"), "--results", str(results), "--quiet", "--allow-nonfinite"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalsuite: error: features of digits/") and "NaN or inf for" in err
    assert "1 non-finite tensor(s) (--allow-nonfinite)" in err and "\n" not in err
    assert not any(results.rglob("*.json"))
    cache = Path(os.environ["EVALSUITE_CACHE"])
    assert not list((cache / "shards").rglob("*.npy")) and not list((cache / "features").rglob("*.pt"))
    assert list((cache / "decoded").rglob("*.npy"))  # the decoded images are good: they stay
    assert list((cache / "decoded").rglob("*.pt"))


def test_a_refusal_in_a_later_split_leaves_no_features_and_says_what_stays(tmp_path, capsys, isolated_cache, monkeypatch):
    """Features of digits/test refused after digits/train's were cached in the same run: train's
    features go too (nothing of a refused backbone stays), the decoded images of both splits stay
    and the sentence names them; a second run, decoding nothing, writes nothing and says so."""
    import evalsuite.features as features_module

    real = features_module.check_finite_features

    def nan_in_test(features, where, nonfinite, *args):
        if where.endswith("/test"):
            features = features.clone()
            features[0, 0] = float("nan")
        real(features, where, nonfinite, *args)

    monkeypatch.setattr(features_module, "check_finite_features", nan_in_test)
    argv = ["eval", "random", "--arch", "resnet_tiny", "--tasks", "knn", "--results", str(tmp_path / "res"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalsuite: error: features of digits/test hold NaN or inf for 1 of ") and "\n" not in err
    assert err.endswith("no row was written and no features were cached for digits; the decoded images of digits/train, "
                        "digits/test made in this run stay in the decoded-image cache (they do not depend on the backbone, "
                        "and the next evaluation of digits reuses them)")
    assert not [p for p in (isolated_cache / "shards").rglob("*") if p.is_file()]  # train's, cached first, removed
    decoded = sorted((isolated_cache / "decoded").iterdir())
    assert len(decoded) == 4 and not any(p.name.startswith(".") for p in decoded)  # images + targets per split
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().endswith("; nothing was cached or written for digits")
    assert sorted((isolated_cache / "decoded").iterdir()) == decoded
    assert not [p for p in (isolated_cache / "shards").rglob("*") if p.is_file()]
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").rglob("*.json"))
