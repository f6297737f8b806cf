"""The Python API: ``evalsuite.evaluate`` on a path or an in-memory module, ``load_backbone``."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import torch

import evalsuite
from evalsuite.archs import build_backbone
from evalsuite.checkpoint import save_backbone
from evalsuite.results import read_rows

FAST = dict(datasets="digits", tasks=["knn"], device="cpu")


def test_import_is_light():
    light = "import sys, evalsuite; print(sorted(m for m in ('torch', 'pandas', 'mmengine') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", light], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    assert callable(evalsuite.evaluate) and callable(evalsuite.load_backbone)
    with pytest.raises(AttributeError, match="no attribute 'evaluat'"):
        evalsuite.evaluat


def test_in_memory_module_matches_its_saved_checkpoint(tmp_path, one_thread):
    torch.manual_seed(0)
    net = build_backbone("resnet_tiny")
    df = evalsuite.evaluate(net, name="mine", **FAST)
    assert isinstance(df, pd.DataFrame) and list(df.columns[:7]) == ["checkpoint", "dataset", "task", "metric", "value",
                                                                      "seed", "protocol_id"]
    assert df[["checkpoint", "dataset", "task", "metric"]].values.tolist() == [["mine", "digits", "knn", "top1@k=20"]]
    assert not [p for p in tmp_path.rglob("*.json") if "cache" not in p.parts], "no results_dir: no row written"
    # The same weights saved and loaded through a checkpoint score the same, and load_backbone
    # gives back a module with those weights.
    path = tmp_path / "net.pth"
    save_backbone(path, net.state_dict(), arch="resnet_tiny")
    loaded = evalsuite.load_backbone(path)
    want, got = net.state_dict(), loaded.state_dict()
    assert list(got) == list(want)
    for key, value in want.items():
        assert torch.equal(got[key], value), key
    from_file = evalsuite.evaluate(path, results_dir=tmp_path / "rows", **FAST)
    assert from_file["value"].iloc[0] == pytest.approx(df["value"].iloc[0], abs=1e-6)
    (row,) = read_rows(tmp_path / "rows")
    assert row["value"] == from_file["value"].iloc[0] and row["checkpoint"]["label"] == from_file["checkpoint"].iloc[0]


def test_a_changed_module_is_not_served_stale_features(one_thread, isolated_cache, tmp_path):
    torch.manual_seed(0)
    net = build_backbone("resnet_tiny")
    before = evalsuite.evaluate(net, **FAST)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(-1)
    after = evalsuite.evaluate(net, **FAST)
    assert before["checkpoint"].iloc[0] != after["checkpoint"].iloc[0]  # label carries the weight hash
    assert before["checkpoint_record"].iloc[0]["sha256"] != after["checkpoint_record"].iloc[0]["sha256"]
    assert len(list(isolated_cache.glob("shards/*/"))) == 4, "the changed module reused the first one's features"
    fresh = evalsuite.evaluate(net, cache_dir=tmp_path / "empty-cache", **FAST)
    assert after["value"].iloc[0] == fresh["value"].iloc[0]
