"""Where evalsuite writes: the user's results store outside the repository, one cache root for
every cache, files readable as the umask allows, compute precision in the cache key and the
protocol id."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import torch

from evalsuite.atomic import write_text
from evalsuite.cli import main
from evalsuite.cache import FeatureKey
from evalsuite.imaging import compute_precision
from evalsuite.results import default_results_dir, protocol_id, read_rows

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--arch", "resnet_tiny", "--tasks", "knn", "--quiet", "--device", "cpu"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Run with a given umask and restore the process's own afterwards."""
    before = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(before)


def test_default_store_is_the_users_not_the_repositorys(tmp_path, monkeypatch):
    monkeypatch.delenv("EVALSUITE_RESULTS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_results_dir() == tmp_path / "xdg" / "evalsuite" / "results"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_results_dir() == tmp_path / "home" / ".local" / "share" / "evalsuite" / "results"
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if tracked:  # in a git checkout: the project's rows are committed under results/measured only
        assert all(not p.startswith("results/runs/") for p in tracked)
        assert any(p.startswith("results/measured/") and p.endswith(".json") for p in tracked)


def test_eval_without_results_writes_to_the_store_and_caches_under_one_root(tmp_path, isolated_cache, umask):
    umask(0o002)  # a group-shared lab folder
    cache = tmp_path / "one-root"
    assert main(["eval", "random", "--datasets", "digits", "--cache-dir", str(cache), *TINY]) == 0
    (row,) = read_rows(os.environ["EVALSUITE_RESULTS"])
    assert _mode(Path(row["_file"])) == 0o664
    assert sorted(p.name for p in cache.iterdir()) == ["decoded", "shards"]
    assert all(_mode(p) == 0o664 for p in cache.rglob("*") if p.is_file())
    assert not isolated_cache.exists(), "--cache-dir must hold every cache"
    # The row states its precision and its protocol id depends on it: CPU fp32 rows never
    # share a column with GPU bf16 rows.
    assert row["precision"] == "fp32" == compute_precision(torch.device("cpu"))
    ids = {p: protocol_id("knn", row["settings"], "digits", {"transform": row["transform"], "precision": p})
           for p in ("fp32", "bf16")}
    assert row["protocol_id"] == ids["fp32"] != ids["bf16"]


def test_feature_key_includes_precision_but_decoded_images_do_not():
    cpu = FeatureKey("sha", "resnet_tiny", "digits", "train", "native32", 10, "", "fp32")
    gpu = FeatureKey("sha", "resnet_tiny", "digits", "train", "native32", 10, "", "bf16")
    assert cpu.digest() != gpu.digest() and cpu.images_key() == gpu.images_key()
    assert compute_precision(torch.device("cuda")) == "bf16"


def test_feature_key_label_protocol_keeps_old_entries_and_parts_new_targets():
    """Cached targets are the dataset's: a label protocol (VOC's ignored difficult pairs) gives
    features and decoded images new entries, and an empty one the digests made before it existed."""
    args = ("sha", "resnet_tiny", "voc2007", "train", "resize256-crop224", 10, "/data", "fp32")
    old, new = FeatureKey(*args), FeatureKey(*args, labels="difficult-ignored")
    names = ("checkpoint_sha256", "arch", "dataset", "split", "transform", "size", "source", "precision")
    before = dict(zip(names, args))
    assert old.fields() == before  # the stored key and digest of an entry written before the field
    assert old.digest() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:32]
    assert new.digest() != old.digest() and new.images_key() != old.images_key()


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_take_the_umask_mode(tmp_path, umask, mask, mode):
    umask(mask)
    assert _mode(write_text(tmp_path / "report.html", "x")) == mode
