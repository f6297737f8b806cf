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


@pytest.mark.parametrize("kwargs, sentence", [
    (dict(datasets=42), "datasets=42 is not a comma-separated list of dataset names (e.g. digits or cifar10,imagefolder:PATH)"),
    (dict(datasets=""), "datasets='' names no dataset; give one or more"),
    (dict(tasks=[]), "tasks=[] names no task"),
    (dict(seeds="0,x"), "seeds='0,x' is not a comma-separated list of integers (e.g. 0,1,2)"),
    (dict(seeds=[0.5]), "seeds=[0.5] is not a comma-separated list of integers"),
    (dict(seeds=-1), "seeds [-1] are not valid; give one or more non-negative integers"),
    (dict(cfg_options=3), "cfg_options=3 is not a dict, a list of key=value strings or one string of them"),
    (dict(cfg_options="knn.temperature"), "--cfg-options item 'knn.temperature' is not key=value"),
    (dict(cfg_options="knn.temperature=-1"), "knn.temperature=-1 is not valid"),
    (dict(device=0), "device=0 is not 'auto', 'cpu' or 'cuda'"),
    (dict(device="tpu"), "unknown device 'tpu'"),
    (dict(arch=18), "arch=18 is not a registered arch name"),
    (dict(quiet="yes"), "quiet='yes' is not True or False"),
])
def test_wrong_types_and_values_are_the_command_lines_sentences(kwargs, sentence):
    from evalsuite.errors import EvalsuiteError

    args = {"model_or_path": "random", "arch": "resnet_tiny", **FAST, **kwargs}
    with pytest.raises(EvalsuiteError) as info:
        evalsuite.evaluate(**args)
    assert sentence in str(info.value) and "\n" not in str(info.value)


def test_what_is_not_a_backbone_is_one_sentence():
    from evalsuite.errors import EvalsuiteError

    with pytest.raises(EvalsuiteError, match=r"model_or_path=42 is not a checkpoint file, 'random' \(with arch\) or an nn.Module"):
        evalsuite.evaluate(42, **FAST)
    with torch.device("meta"):  # built without memory, never loaded: module_sha256 cannot read it
        net = build_backbone("resnet_tiny")
    with pytest.raises(EvalsuiteError, match=r"module _TinyResNet has 72 tensor\(s\) on the meta device \(no values\), "
                                             r"such as conv1.weight; load or initialise its weights first"):
        evalsuite.evaluate(net, **FAST)


def test_the_command_lines_forms_are_accepted(one_thread):
    """``seeds='0,1'`` is two seeds (not the characters '0', ',', '1'); ``cfg_options`` as one string
    (spaces inside brackets kept), a list of key=value or a dict all set the same suite."""
    common = dict(model_or_path="random", arch="resnet_tiny", datasets="digits", tasks="knn", device="cpu")
    forms = ["knn.ks=[1, 3] knn.headline_k=3", ["knn.ks=[1,3]", "knn.headline_k=3"],
             {"knn.ks": [1, 3], "knn.headline_k": 3}]
    tables = [evalsuite.evaluate(**common, seeds="0,1", cfg_options=form) for form in forms]
    for df in tables:
        assert df["seed"].tolist() == [0, 1] and df["metric"].tolist() == ["top1@k=3"] * 2
        assert df["settings"].iloc[0]["ks"] == [1, 3]
    assert len({tuple(df["protocol_id"]) for df in tables}) == 1  # the same protocol, however written
    assert evalsuite.evaluate(**common, seeds=1, cfg_options=forms[0])["seed"].tolist() == [1]
