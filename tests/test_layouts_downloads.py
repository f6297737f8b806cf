"""The files people actually download (``tests/fixtures/downloads.py``, each written as its project's
save code writes it) load exactly the encoder the project evaluates, with the convention or the
config that chose it named by ``evalsuite inspect``.

ResNet layouts are compared tensor by tensor with the encoder that was saved; ViT layouts by their
forward: the loaded backbone's tokens equal those of the saved network (for ``transformers`` models,
the library's own forward), which no misplaced tensor survives.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from evalsuite.checkpoint import inspect_checkpoint, load_backbone
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from tests.fixtures import downloads
from tests.fixtures.downloads import BUILDERS, NEEDS_TRANSFORMERS

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """name -> Download, every file written once per module."""
    folder = tmp_path_factory.mktemp("downloads")
    out = {}
    for name, build in BUILDERS.items():
        if name in NEEDS_TRANSFORMERS and not HAS_TRANSFORMERS:
            continue
        sub = folder / name
        sub.mkdir()
        out[name] = build(sub)
    return out


def _get(corpus, name):
    if name not in corpus:
        pytest.skip("transformers (the test extra) is not installed")
    return corpus[name]


def _tokens(model, x):
    """The final-norm tokens of a saved network: transformers' last_hidden_state or timm's forward_features."""
    out = model(pixel_values=x) if hasattr(model, "config") and hasattr(model.config, "model_type") else None
    return out.last_hidden_state if out is not None else model.forward_features(x)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_each_download_loads_exactly_the_encoder_it_saved(corpus, name, one_thread):
    found = _get(corpus, name)
    model, info = load_backbone(found.path)
    assert (info.arch, info.format, info.meta["loaded_from"]) == (found.arch, found.format, found.loaded_from), info.how
    assert info.report.ok and info.report.matched == info.report.total
    got = model.state_dict()
    for key, value in found.expected.items():
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)
    if found.source is not None:
        x = torch.randn(2, 3, found.side, found.side)
        with torch.no_grad():
            want, have = _tokens(found.source.eval(), x), model.eval().forward_features(x)
        assert have.shape == want.shape
        # transformers' ViT normalises with eps 1e-12 where timm uses 1e-6: equal to float32 rounding
        torch.testing.assert_close(have, want, rtol=0, atol=1e-5)


def test_hf_folder_arch_comes_from_config_json(corpus):
    """The heads are read from config.json (shapes cannot show them): 6 heads of 32 on ViT-Ti's width."""
    found = _get(corpus, "hf_vit_folder")
    config = downloads.config_of(found.path)
    (found.path / "config.json").write_text(json.dumps({**config, "num_attention_heads": 6}))
    try:
        info = inspect_checkpoint(found.path)
        assert info.arch == "vit_tiny_patch16_h6_32" and info.meta["hf_model_type"] == "vit"
        assert info.how.endswith("; arch from config.json")
    finally:
        (found.path / "config.json").write_text(json.dumps(config))
    assert inspect_checkpoint(found.path).meta["arch"] == "vit_tiny_patch16_32"
    giant = {**config, "model_type": "dinov2", "use_swiglu_ffn": True}
    (found.path / "config.json").write_text(json.dumps(giant))
    try:
        with pytest.raises(EvalsuiteError, match=r"use_swiglu_ffn=true .*cannot build"):
            inspect_checkpoint(found.path)
    finally:
        (found.path / "config.json").write_text(json.dumps(config))


def test_folder_sha256_covers_config_and_weights(corpus):
    found = _get(corpus, "timm_hub_folder")
    first = inspect_checkpoint(found.path).sha256
    config, text = downloads.config_of(found.path), (found.path / "config.json").read_text()
    (found.path / "config.json").write_text(json.dumps({**config, "num_classes": 11}))
    try:
        assert inspect_checkpoint(found.path).sha256 != first
    finally:
        (found.path / "config.json").write_text(text)
    info = inspect_checkpoint(found.path)
    assert info.sha256 == first and info.meta["mean"] == list(config["pretrained_cfg"]["mean"])
    assert info.how.endswith("; arch from config.json") and info.arch == "timm:test_vit"


def test_dinov2_flat_release_is_one_network_read_two_ways(corpus):
    info = inspect_checkpoint(_get(corpus, "dinov2_release_no_registers").path)
    assert "one network read two ways: top level holds the same weights as <dinov2 renaming>" in info.how
    assert "the dinov2 format's reading is kept" in info.how


@pytest.mark.parametrize("name, rule, other", [
    ("lightly_benchmark_byol", "lightly's benchmarks evaluate backbone", "state_dict.teacher_backbone"),
    ("lightly_benchmark_dino", "lightly's benchmarks evaluate backbone", "state_dict.student_backbone"),
    ("mmpretrain_mocov2", "MMPretrain's MoCo evaluates backbone", "state_dict.encoder_k.module.0"),
    ("timm_train", "timm's validate.py and clean_checkpoint.py read state_dict", "state_dict_ema"),
])
def test_inspect_prints_the_rule_and_the_alternative_key(corpus, name, rule, other, capsys):
    found = _get(corpus, name)
    assert main(["inspect", str(found.path)]) == 0
    out = capsys.readouterr().out
    assert rule in out and f"(the other: --key {other})" in out
    _, alternative = load_backbone(found.path, key=other)  # the other one loads when asked for
    assert alternative.meta["loaded_from"] == other and alternative.report.ok


def test_timm_ema_by_key_is_the_ema(corpus):
    found = _get(corpus, "timm_train")
    model, info = load_backbone(found.path, key="state_dict_ema")
    saved = torch.load(found.path, weights_only=False)["state_dict_ema"]
    torch.testing.assert_close(model.state_dict()["layer4.0.conv1.weight"], saved["layer4.0.conv1.weight"], rtol=0, atol=0)
    assert "chosen by convention" not in info.how


def test_damaged_hub_files_are_one_sentence(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(EvalsuiteError, match=r"cannot be read as safetensors .*truncated, corrupted or not a safetensors"):
        load_backbone(bad)
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(EvalsuiteError, match=r"holds no model weights \(model.safetensors, "):
        load_backbone(empty)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors"}}))
    with pytest.raises(EvalsuiteError, match=r"names 1 file\(s\) that are not there.*download every shard"):
        load_backbone(sharded)


def test_sharded_folder_loads_every_shard(tmp_path):
    """transformers' save_pretrained(max_shard_size=...) splits a model by a weight_map index."""
    from safetensors.torch import save_file

    from tests.fixtures.downloads import _resnet

    sd = _resnet(70).state_dict()
    keys = sorted(sd)
    halves = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2], "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    folder = tmp_path / "sharded"
    folder.mkdir()
    for file, names in halves.items():
        save_file({k: sd[k].contiguous() for k in names}, str(folder / file), metadata={"format": "pt"})
    index = {"metadata": {"total_size": 0}, "weight_map": {k: f for f, names in halves.items() for k in names}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    model, info = load_backbone(folder)
    assert info.arch == "resnet_tiny" and info.report.ok
    torch.testing.assert_close(model.state_dict()["layer4.0.bn2.running_var"], sd["layer4.0.bn2.running_var"], rtol=0, atol=0)
