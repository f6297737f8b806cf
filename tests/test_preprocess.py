"""Preprocessing as settings: validated, applied, recorded in the row and in the protocol id."""

import pytest
import torch
from torch import nn

from evalsuite.archs import build_backbone
from evalsuite.checkpoint import save_backbone
from evalsuite.cli import main
from evalsuite.datasets.base import random_holdout
from evalsuite.errors import EvalsuiteError
from evalsuite.preprocess import Preprocess
from evalsuite.results import read_rows
from evalsuite.runner import EvalRequest, evaluate


@pytest.mark.parametrize("cfg, message", [
    ({"normalize": "imagenet21k"}, "features.normalize='imagenet21k' is not valid"),
    ({"mean": [0.5, 0.5, 0.5]}, "go together"),
    ({"mean": [0.5, 0.5], "std": [1, 1]}, "must be 3 numbers"),
    ({"mean": [0.5] * 3, "std": [0, 1, 1]}, "must be positive"),
    ({"resize": "crop"}, "--resolution 'crop' is not valid"),
    ({"resize": 5}, "out of range"),
])
def test_bad_preprocessing_is_one_sentence(cfg, message):
    with pytest.raises(EvalsuiteError, match=message):
        Preprocess.from_cfg(cfg)


def test_resolution_follows_the_backbone():
    small, plain = build_backbone("resnet_tiny"), nn.Flatten()
    assert Preprocess().transform(8, small, {})[1:] == ("native32", "small-input arch")
    assert Preprocess().transform(96, small, {})[1] == "resize256-crop224"
    plain.train_resolution = 112  # what a ViT backbone states
    assert Preprocess().transform(32, plain, {})[1:] == ("resize128-crop112", "backbone's training resolution")
    assert Preprocess().transform(32, nn.Flatten(), {"resolution": 64})[1] == "resize73-crop64"
    assert Preprocess(resize="native").transform(8, nn.Flatten(), {})[1] == "native32"
    image = torch.zeros(3, 60, 90, dtype=torch.uint8)
    from torchvision.transforms.v2.functional import to_pil_image
    out = Preprocess(resize="bicubic224").transform(60, plain, {})[0](to_pil_image(image))
    assert out.shape == (3, 224, 224)


def test_small_images_upscaled_for_an_unknown_backbone_say_so_once(capsys):
    Preprocess().transform(32, nn.Flatten(), {})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resolution" in err and "32-px" in err
    Preprocess().transform(32, build_backbone("resnet_tiny"), {})
    Preprocess().transform(224, nn.Flatten(), {})
    assert capsys.readouterr().err == ""


def test_random_holdout_is_ssl_transfers_draw():
    import numpy as np

    idx = list(range(50))
    np.random.seed(3)
    np.random.shuffle(idx)  # ssl-transfer linear.py, get_train_valid_loader
    train, held = random_holdout(50, 0.2, 3)
    assert held.tolist() == sorted(idx[:10]) and train.tolist() == sorted(idx[10:])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.manual_seed(0)
    save_backbone(path, build_backbone("resnet_tiny").state_dict(), arch="resnet_tiny")
    return path


def _run(checkpoint, tmp_path, options):
    evaluate(EvalRequest(checkpoint=str(checkpoint), tasks=["knn"], results_dir=str(tmp_path), quiet=True,
                         cfg_options=options, name="t"))
    (row,) = [r for r in read_rows(tmp_path)]
    return row


def test_normalisation_settings_apply_and_are_recorded(checkpoint, tmp_path):
    default = _run(checkpoint, tmp_path / "a", {})
    none = _run(checkpoint, tmp_path / "b", {"features.normalize": False})
    explicit = _run(checkpoint, tmp_path / "c", {"features.mean": [0.5, 0.5, 0.5], "features.std": [0.25, 0.25, 0.25]})
    assert default["transform"] == "native32" and default["preprocess"]["normalize"] == "imagenet"
    assert none["transform"] == "native32-norm=none" and none["preprocess"]["std"] == [1.0, 1.0, 1.0]
    assert explicit["preprocess"]["mean"] == [0.5, 0.5, 0.5] and explicit["transform"].endswith("norm=0.5,0.5,0.5,0.25,0.25,0.25")
    assert len({default["protocol_id"], none["protocol_id"], explicit["protocol_id"]}) == 3
    assert len({default["metrics"]["top1@k=20"], none["metrics"]["top1@k=20"], explicit["metrics"]["top1@k=20"]}) > 1


def test_resolution_flag_applies(checkpoint, tmp_path):
    assert main(["eval", str(checkpoint), "--tasks", "knn", "--results", str(tmp_path), "--quiet",
                 "--resolution", "40", "--name", "t"]) == 0
    (row,) = read_rows(tmp_path)
    assert row["transform"] == "resize46-crop40" and row["preprocess"]["resolution_from"] == "setting"


def test_ssl_transfer_preset_states_its_protocol():
    from evalsuite.runner import REPO_ROOT, build_task, load_suite

    cfg = load_suite(str(REPO_ROOT / "tasks" / "transfer_ssl_transfer.py"), {})
    linear = build_task("linear", cfg)
    assert (linear.standardize, linear.ties, linear.val_draw) == (False, "weaker", "random")
    assert (linear.wd_start, linear.wd_stop, linear.wd_num) == (-6.0, 5.0, 45)
    pre = Preprocess.from_cfg(dict(cfg.features))
    assert (pre.resize, pre.normalize) == ("bicubic224", "imagenet")
    default = build_task("linear", load_suite(None, {}))
    assert (default.standardize, default.ties, default.val_draw) == (True, "stronger", "stratified")
