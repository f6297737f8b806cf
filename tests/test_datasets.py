"""Dataset registry: image folders, the validation policy, and real CIFAR-10 when it is there."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest
from PIL import Image

from evalsuite.cli import main
from evalsuite.datasets import build_dataset, stratified_holdout
from evalsuite.errors import EvalsuiteError
from evalsuite.results import read_rows


def _folder(root, splits=("train", "test"), classes=("cat", "dog"), n=6, size=32):
    rng = np.random.default_rng(0)
    for split in splits:
        for ci, c in enumerate(classes):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = np.clip(rng.normal(60 + 120 * ci, 20, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{i}.png")
    return root


def test_imagefolder_layouts(tmp_path):
    spec = build_dataset(f"imagefolder:{_folder(tmp_path / 'a')}")
    assert set(spec.splits) == {"train", "test"} and spec.classes == ["cat", "dog"] and spec.native_size == 32
    spec = build_dataset(f"imagefolder:{_folder(tmp_path / 'b', ('train', 'val', 'test'))}")
    assert set(spec.splits) == {"train", "val", "test"} and spec.split_note == "official"
    spec = build_dataset(f"imagefolder:{_folder(tmp_path / 'c', ('train', 'val'))}")  # Imagenette: val is the test split
    assert set(spec.splits) == {"train", "test"} and "val/ used as the test split" in spec.split_note


def test_imagefolder_with_mismatched_classes_is_refused(tmp_path):
    root = _folder(tmp_path / "d")
    (root / "test" / "bird").mkdir()
    with pytest.raises(EvalsuiteError, match="test/ has class 'bird' that train/ lacks"):
        build_dataset(f"imagefolder:{root}")
    (root / "test" / "cat" / "0.png").rename(root / "test" / "bird" / "0.png")
    with pytest.raises(EvalsuiteError, match="test/ has class 'bird' that train/ lacks"):
        build_dataset(f"imagefolder:{root}")


def test_official_val_split_is_used_for_selection(tmp_path):
    root = _folder(tmp_path / "v", ("train", "val", "test"), n=8)
    results = tmp_path / "res"
    assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", f"imagefolder:{root}", "--tasks", "linear",
                 "--results", str(results), "--quiet", "--cfg-options", "linear.wd_num=3"]) == 0
    (row,) = read_rows(results)
    assert row["extra"]["split"]["val_source"] == "official"
    assert row["extra"]["split"]["sizes"] == {"train": 16, "val": 16, "test": 16}
    assert row["value"] == 1.0  # the two classes differ in brightness


def test_holdout_is_stratified_and_seeded():
    labels = np.repeat(np.arange(4), 25)
    tr0, va0 = stratified_holdout(labels, 0.2, 0)
    tr1, va1 = stratified_holdout(labels, 0.2, 1)
    assert len(va0) == 20 and np.bincount(labels[va0]).tolist() == [5, 5, 5, 5]
    assert not set(tr0) & set(va0) and set(va0) != set(va1)
    np.testing.assert_array_equal(va0, stratified_holdout(labels, 0.2, 0)[1])


def test_digits_is_offline_and_fixed():
    spec = build_dataset("digits")
    assert spec.sizes == {"train": 1257, "test": 540} and spec.native_size == 8
    img, label = spec.splits["train"][0]
    assert img.mode == "RGB" and img.size == (8, 8) and 0 <= label < 10


@pytest.mark.data
def test_real_cifar10_subset(tmp_path, shared_data):
    """A few real CIFAR-10 JPEGs of the shared copy through the cifar10 entry (image-folder tree)."""
    root = tmp_path / "data" / "cifar10"
    with tarfile.open(shared_data / "cifar10-jpeg.tar.gz") as tar:
        wanted = [m for m in tar.getmembers() if m.isfile() and m.name.split("/")[-1] < "0012"
                  and m.name.split("/")[1] in ("airplane", "frog")]
        tar.extractall(root, members=wanted, filter="data")
    spec = build_dataset("cifar10", tmp_path / "data")
    assert spec.classes == ["airplane", "frog"] and spec.native_size == 32
    img, _ = spec.splits["test"][0]
    assert img.size == (32, 32)
    results = tmp_path / "res"
    assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", "cifar10", "--data-root", str(tmp_path / "data"),
                 "--tasks", "knn", "--results", str(results), "--quiet", "--cfg-options", "knn.cap_k=true"]) == 0
    (row,) = read_rows(results)
    assert row["transform"] == "native32" and row["split"]["sizes"] == {"train": 24, "test": 24}
    assert row["extra"]["k_used"] == {"10": 10, "20": 20, "100": 24, "200": 24}  # a bank of 24 images


def test_same_dataset_name_under_another_root_is_not_served_from_the_cache(tmp_path):
    """Two CIFAR-10 trees of the same size in different --data-root folders: the second run must
    read its own images, not the first one's cached features."""
    for root, shade in (("a", 40), ("b", 220)):
        for split in ("train", "test"):
            for c in ("airplane", "frog"):
                folder = tmp_path / root / "cifar10" / split / c
                folder.mkdir(parents=True)
                for i in range(3):
                    Image.fromarray(np.full((32, 32, 3), shade if c == "frog" else 255 - shade, np.uint8)).save(folder / f"{i}.png")
    for root in ("a", "b"):
        results = tmp_path / f"res_{root}"
        assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", "cifar10", "--data-root", str(tmp_path / root),
                     "--tasks", "knn", "--results", str(results), "--quiet", "--cfg-options", "knn.ks=[1,2]", "knn.headline_k=1"]) == 0
        assert len(read_rows(results)) == 1
    cache = list((tmp_path / "cache" / "shards").glob("*/key.json"))
    assert len(cache) == 4  # 2 roots x (train, test)
