"""``evalsuite baselines``: torchvision weight files checked by sha256 prefix and written as
supervised-baseline checkpoints that ``evalsuite eval`` reads like any other."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
import torch
from torchvision.models import get_weight

from evalsuite import baselines
from evalsuite.archs import build_backbone
from evalsuite.baselines import BASELINES, Baseline, register
from evalsuite.checkpoint import load_backbone
from evalsuite.checkpoint.io import sha256_file
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from evalsuite.results import read_rows


def tiny_torchvision_file(folder: Path, seed: int = 0) -> Path:
    """A torchvision-style state dict (backbone + 10-way ``fc``) of arch ``resnet_tiny``."""
    torch.manual_seed(seed)
    state = build_backbone("resnet_tiny").state_dict()
    state["fc.weight"], state["fc.bias"] = torch.randn(10, 64), torch.randn(10)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.pth"
    torch.save(state, path)
    return path


@pytest.fixture
def tiny_baseline(tmp_path, monkeypatch) -> tuple[Baseline, Path]:
    """A registered baseline whose torchvision-style file name embeds its real sha256 prefix."""
    made = tiny_torchvision_file(tmp_path / "made")
    named = made.with_name(f"resnet_tiny-{sha256_file(made)[:8]}.pth")
    made.rename(named)
    entry = Baseline("supervised-tiny", "resnet_tiny", "Tiny_Weights.V1", named.name, 50.0)
    monkeypatch.setitem(BASELINES, entry.name, entry)
    return entry, named


def test_table_matches_torchvision_weights():
    assert {b.arch for b in BASELINES.values()} == {"resnet18", "resnet50"}
    for b in BASELINES.values():
        weights = get_weight(b.weights)
        assert b.url == weights.url
        assert b.imagenet_top1 == pytest.approx(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"])
        assert len(b.hash_prefix) >= 8 and b.file.endswith(f"-{b.hash_prefix}.pth")


def test_local_file_with_right_hash_becomes_a_supervised_checkpoint(tiny_baseline, tmp_path):
    entry, source = tiny_baseline
    [written] = register([entry.name], tmp_path / "out", source=source)
    model, info = load_backbone(written)
    assert info.format == "evalsuite" and info.arch == "resnet_tiny"
    assert info.meta["kind"] == "supervised" and info.meta["method"] == "supervised ImageNet"
    assert info.meta["source_sha256"] == sha256_file(source) and info.meta["label"] == entry.name
    original = torch.load(source, weights_only=True)
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, original[key]), key
    assert "fc.weight" not in torch.load(written, weights_only=True)["state_dict"]


def test_registered_baseline_is_evaluated_like_any_checkpoint(tiny_baseline, tmp_path):
    entry, source = tiny_baseline
    hub = tmp_path / "hub"
    hub.mkdir()
    shutil.copy(source, hub / entry.file)  # the torch hub cache layout: <hub>/<torchvision file name>
    assert main(["baselines", entry.name, "--hub-dir", str(hub), "-o", str(tmp_path / "ckpt")]) == 0
    results = tmp_path / "res"
    assert main(["eval", str(tmp_path / "ckpt" / f"{entry.name}.pth"), "--tasks", "knn", "--results", str(results), "--quiet"]) == 0
    [row] = read_rows(results)
    assert row["checkpoint"]["label"] == entry.name and row["checkpoint"]["kind"] == "supervised"
    assert row["checkpoint"]["method"] == "supervised ImageNet" and row["settings"]["temperature"] == 0.07


def test_wrong_hash_is_refused_and_nothing_written(tmp_path, capsys):
    made = tiny_torchvision_file(tmp_path / "made")
    impostor = made.with_name(BASELINES["supervised-resnet18-imagenet1k-v1"].file)  # right name, wrong bytes
    made.rename(impostor)
    out = tmp_path / "out"
    with pytest.raises(EvalsuiteError, match="sha256 .* not torchvision's f37072fd"):
        register(None, out, source=impostor)
    assert not out.exists()
    assert main(["baselines", "--from", str(impostor), "-o", str(out)]) == 2
    assert "nothing was written" in capsys.readouterr().err and not out.exists()


def test_one_bad_file_among_several_writes_nothing(tiny_baseline, tmp_path, monkeypatch):
    entry, source = tiny_baseline
    hub = tmp_path / "hub"
    hub.mkdir()
    shutil.copy(source, hub / entry.file)
    bad = Baseline("supervised-tiny-bad", "resnet_tiny", "Tiny_Weights.V2", "resnet_tiny-00000000.pth", 1.0)
    monkeypatch.setitem(BASELINES, bad.name, bad)
    shutil.copy(source, hub / bad.file)
    with pytest.raises(EvalsuiteError, match="00000000"):
        register([entry.name, bad.name], tmp_path / "out", hub_dir=hub)
    assert not (tmp_path / "out").exists()


def test_missing_file_without_download_says_how_to_get_it(tmp_path):
    with pytest.raises(EvalsuiteError, match="--download"):
        register(["supervised-resnet50-imagenet1k-v2"], tmp_path / "out", hub_dir=tmp_path / "empty")
    with pytest.raises(EvalsuiteError, match="valid baselines are"):
        register(["resnet51"], tmp_path / "out")


def test_download_fetches_torchvision_url_into_the_hub_cache(tiny_baseline, tmp_path, monkeypatch):
    entry, source = tiny_baseline
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):  # stands in for the network
        calls.append((url, hash_prefix))
        shutil.copy(source, dst)

    monkeypatch.setattr(baselines.torch.hub, "download_url_to_file", fake_download)
    hub = tmp_path / "hub"
    [written] = register([entry.name], tmp_path / "out", hub_dir=hub, download=True)
    assert calls == [(baselines.URL_ROOT + entry.file, entry.hash_prefix)]
    assert (hub / entry.file).is_file() and written.is_file()
    register([entry.name], tmp_path / "out2", hub_dir=hub, download=True)
    assert len(calls) == 1, "a file already in the hub cache was downloaded again"


def _make_recipe(target: str) -> list[str]:
    """The shell lines of a Makefile target (continuations joined)."""
    text = (Path(__file__).resolve().parents[1] / "Makefile").read_text().replace("\\\n", " ")
    lines = text.split(f"\n{target}:", 1)[1].split("\n")[1:]
    return [line.strip() for line in itertools.takewhile(lambda l: l.startswith("\t"), lines)]


def test_make_baselines_path_offline(tiny_baseline, tmp_path, monkeypatch, one_thread):
    """`make baselines`: register with --download, then eval each checkpoint through tasks/transfer.py
    with --download, here on a torchvision-style file and tiny copies of three transfer datasets."""
    from tests.fixtures import datasets as fx

    recipe = _make_recipe("baselines")
    assert "-m evalsuite baselines --download -o $(BASELINES_DIR)" in recipe[0]
    assert "-m evalsuite eval $$ckpt --suite $(BASELINES_SUITE) --data-root $(DATA) --download" in recipe[1]
    entry, source = tiny_baseline
    monkeypatch.setattr(baselines.torch.hub, "download_url_to_file", lambda url, dst, hash_prefix=None, progress=True:
                        shutil.copy(source, dst))  # stands in for the network
    fx.bypass_md5(monkeypatch)
    data, out, results = tmp_path / "data", tmp_path / "baselines", tmp_path / "runs"
    for name in ("cifar10", "dtd", "voc2007"):
        fx.write(name, data)
    assert main(["baselines", entry.name, "--download", "--hub-dir", str(tmp_path / "hub"), "-o", str(out)]) == 0
    for ckpt in sorted(out.glob("*.pth")):
        argv = ["eval", str(ckpt), "--suite", "tasks/transfer.py", "--data-root", str(data), "--download",
                "--results", str(results), "--skip-existing", "--quiet", "--datasets", "cifar10,dtd,voc2007",
                "--cfg-options", "linear.wd_num=3", "knn.ks=[1,5]", "knn.headline_k=5"]  # banks of 15 images
        assert main(argv) == 0
    rows = read_rows(results)
    assert sorted((r["dataset"], r["task"]) for r in rows) == sorted(
        (d, t) for d in ("cifar10", "dtd", "voc2007") for t in ("knn", "linear"))
    assert {r["checkpoint"]["kind"] for r in rows} == {"supervised"}
    assert {r["checkpoint"]["label"] for r in rows} == {entry.name}
    assert {r["metric"] for r in rows if r["task"] == "linear"} == {"top1", "map11"}
