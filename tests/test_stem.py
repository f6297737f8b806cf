"""Small-input backbones found by their stem, and sizes a backbone cannot take refused before work.

A user's CIFAR network (``--arch pkg.module:callable``) that declares nothing is evaluated at its
own 32 px because its stem keeps 32-px maps, and the row says so; a ViT given a size its patches
do not tile is refused before any dataset is decoded, for every dataset of the run.
"""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from torch import nn

from evalsuite.archs import build_backbone
from evalsuite.archs.stem import keeps_small_input
from evalsuite.cli import main
from evalsuite.preprocess import STEM_SOURCE
from tests.fixtures import cifar_resnet20


class _PooledStem(nn.Module):
    """A 3x3 stride-1 conv, then a max-pool before the first block: not a 32-px network."""

    def __init__(self, functional: bool = False) -> None:
        super().__init__()
        self.conv1, self.block = nn.Conv2d(3, 8, 3, 1, 1), nn.Conv2d(8, 8, 3, 1, 1)
        self.pool = nn.Identity() if functional else nn.MaxPool2d(2)
        self.functional = functional

    def forward(self, x):
        x = self.conv1(x)
        x = nn.functional.max_pool2d(x, 2) if self.functional else self.pool(x)
        return self.block(x).mean((2, 3))


class _Fixed224(nn.Module):
    """A network that only runs at 224 px (a fixed-size linear layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2, self.fc = nn.Conv2d(3, 4, 3, 1, 1), nn.Conv2d(4, 4, 3, 1, 1), nn.Linear(4 * 224 * 224, 8)

    def forward(self, x):
        return self.fc(self.conv2(self.conv1(x)).flatten(1))


@pytest.mark.parametrize("make, small", [
    (cifar_resnet20.features, True),  # akamaster's ResNet-20: 3x3 stride-1 conv1, no pooling
    (lambda: build_backbone("cifar_resnet18"), True),
    (lambda: build_backbone("resnet18"), False),  # 7x7 stride-2 conv1 and a max-pool
    (lambda: build_backbone("timm:test_resnet"), False),  # timm's deep stem: first conv at stride 2
    (_PooledStem, False),
    (lambda: _PooledStem(functional=True), False),  # pooling by a function, seen in the second conv's input
    (_Fixed224, False),  # cannot run at 32 px
])
def test_stem_decides_small_input(make, small):
    assert keeps_small_input(make()) is small


def test_looking_changes_nothing():
    model = cifar_resnet20.features().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    keeps_small_input(model)
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_user_arch_is_small_by_stem_unless_it_says_otherwise():
    found = build_backbone("tests.fixtures.cifar_resnet20:features")
    assert (found.small_input, found.small_input_from) == (True, "stem")
    declared = build_backbone("tests.fixtures.cifar_resnet20:resnet20")  # sets small_input itself
    assert (declared.small_input, declared.small_input_from) == (True, "arch")
    assert build_backbone("timm:test_resnet").small_input is False


def test_cifar_user_arch_evaluates_at_its_own_size_and_the_row_says_why(tmp_path, one_thread):
    args = ["eval", "random", "--arch", "tests.fixtures.cifar_resnet20:features", "--datasets", "digits",
            "--tasks", "knn", "--results", str(tmp_path / "r"), "--quiet"]
    assert main(args) == 0
    (row,) = [json.loads(p.read_text()) for p in (tmp_path / "r").glob("*.json")]
    assert row["transform"] == "native32" and row["preprocess"]["resolution_from"] == STEM_SOURCE


def _image_folder(root, side: int):
    for split, count in (("train", 4), ("test", 2)):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (side, side), (40 * i, 90 if label == "a" else 10, 7)).save(root / split / label / f"{i}.png")
    return root


def test_a_size_the_vit_cannot_take_is_refused_before_any_decoding(tmp_path, isolated_cache, capsys):
    """42-px images run natively at 42 (14 tiles it), digits at 32 (it does not): the run is refused
    before the first dataset is decoded, naming the setting and the valid sizes."""
    folder = _image_folder(tmp_path / "if", 42)
    args = ["eval", "random", "--arch", "vit_tiny_patch14", "--datasets", f"imagefolder:{folder},digits",
            "--tasks", "knn", "--results", str(tmp_path / "r"), "--quiet", "--cfg-options", "knn.cap_k=true",
            "--resolution", "native"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--resolution native gives 32x32 images, but a ViT with 14-px patches needs image sides divisible by 14" in err
    assert not list(isolated_cache.glob("decoded/*")) and not list(isolated_cache.glob("features/*")) and not list(isolated_cache.glob("shards/*"))
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*.json"))
    assert main([*args[:-1], "32"]) == 2
    assert "--resolution 32 gives 32x32 images" in capsys.readouterr().err
