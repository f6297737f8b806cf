"""ImageNet-1k from its three on-disk layouts (tests/fixtures/imagenet.py), its subsets, the
held-out slice hyperparameters are chosen on, and the sentences for copies that are half there."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torchvision.datasets as tvd

from evalsuite.cli import main
from evalsuite.datasets import build_dataset
from evalsuite.datasets.imagenet import HELD_OUT_PER_CLASS, LISTS, read_list
from evalsuite.errors import EvalsuiteError
from tests.fixtures import imagenet as fx


@pytest.fixture
def copies(tmp_path_factory, monkeypatch):
    """layout -> a data root holding ``imagenet/`` in that layout."""
    fx.bypass_md5(monkeypatch)

    def make(layout: str) -> Path:
        root = tmp_path_factory.mktemp(layout)
        fx.write(layout, root / "imagenet")
        return root

    return make


def by_name(split) -> dict[str, int]:
    return {Path(p).name: t for p, t in split.samples}


def expected_val() -> dict[str, int]:
    return {f"ILSVRC2012_val_{i + 1:08d}.JPEG": fx.WNIDS.index(w) for i, w in enumerate(fx.val_labels())}


@pytest.mark.parametrize("layout", fx.LAYOUTS)
def test_each_layout_reads_the_same_images_with_sorted_wnid_indices(layout, copies):
    spec = build_dataset("imagenet", copies(layout))
    assert spec.classes == fx.WNIDS and f"{layout} layout at " in spec.split_note
    assert by_name(spec.splits["test"]) == expected_val()  # the official val set is the test set
    train = {**by_name(spec.splits["train"]), **by_name(spec.splits["val"])}
    assert train == {f"{n}.JPEG": i for i, w in enumerate(fx.WNIDS) for n in fx.train_names(w)}
    for split in spec.splits.values():  # the pixels agree with the label: shades rise with the index
        image, target = split[0]
        assert image.mode == "RGB" and abs(np.asarray(image).mean() - fx.CLASSES[fx.WNIDS[target]][2]) < 12


def test_torchvision_layout_indexes_as_torchvision_does_not_by_devkit_id(copies):
    """The devkit numbers kit fox 1 (ILSVRC2012_ID); torchvision and evalsuite give it its sorted place, 2."""
    root = copies("torchvision")
    spec = build_dataset("imagenet", root)
    oracle = tvd.ImageNet(str(root / "imagenet"), split="val")  # parsed already: meta.bin and val/ exist
    assert by_name(spec.splits["test"]) == {Path(p).name: t for p, t in oracle.samples}
    assert oracle.wnids == spec.classes and spec.classes.index("n02119789") == 2 != fx.CLASSES["n02119789"][0] - 1
    assert "n00001740" not in spec.classes  # the devkit's non-leaf synset


def test_a_data_root_holding_the_layout_directly_is_found_too(tmp_path):
    fx.write("prepared", tmp_path)
    assert "prepared layout at " + str(tmp_path) in build_dataset("imagenet", tmp_path).split_note


def test_hyperparameters_are_chosen_on_a_seeded_slice_of_train_never_on_val(copies):
    root = copies("kaggle")
    spec = build_dataset("imagenet", root)
    train, held = by_name(spec.splits["train"]), by_name(spec.splits["val"])
    assert not set(train) & set(held) and not set(held) & set(expected_val())
    per_class = len(fx.train_names(fx.WNIDS[0])) // 2  # nine a class here: half; a full class gives HELD_OUT_PER_CLASS
    assert np.bincount(list(held.values())).tolist() == [per_class] * 4 and HELD_OUT_PER_CLASS == 10
    assert spec.val_source.startswith("16 images held out of train, 10 per class") and "seed 0" in spec.val_source
    assert by_name(build_dataset("imagenet", root).splits["val"]) == held  # the same draw every time


def test_imagenet100_keeps_cmc_classes_numbered_among_themselves(copies):
    spec = build_dataset("imagenet100", copies("prepared"))
    assert spec.classes == fx.IMAGENET100 and "(2 of 100 found)" in spec.split_note
    want = {n: fx.IMAGENET100.index(fx.WNIDS[i]) for n, i in expected_val().items() if fx.WNIDS[i] in fx.IMAGENET100}
    assert by_name(spec.splits["test"]) == want


@pytest.mark.parametrize("name, lists", [("imagenet_1pct", (0,)), ("imagenet_10pct", (0, 1))])
def test_simclr_subsets_train_on_their_files_and_test_on_all_of_val(name, lists, copies):
    spec = build_dataset(name, copies("torchvision"))
    want = {f"{n}.JPEG": i for i, w in enumerate(fx.WNIDS) for k in lists for n in fx.SUBSET_NAMES[w][k]}
    assert by_name(spec.splits["train"]) == want and "val" not in spec.splits  # the probes hold out of the subset
    assert by_name(spec.splits["test"]) == expected_val() and f"({len(want)} of its" in spec.split_note


@pytest.mark.parametrize("name, blob, count", [
    ("cmc_imagenet100.txt", "6dccf9be4f2f5efe33d0f5ae03a20bc438d3e658", 100),
    ("simclr_1percent.txt.xz", "a41c9e9f271bf9467ea81e17e279cd9a2ece388b", 12811),
    ("simclr_10percent.txt.xz", "1ca337e2a25273c022a7a955893ae6c2a6cb856c", 128116),
])
def test_shipped_lists_are_their_sources_bytes(name, blob, count):
    """Git blob ids of HobbitLong/CMC imagenet100.txt and google-research/simclr imagenet_subsets/*."""
    import lzma
    from importlib import resources

    data = (resources.files("evalsuite.datasets") / LISTS / name).read_bytes()
    data = lzma.decompress(data) if name.endswith(".xz") else data
    assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == blob
    assert len(read_list(name)) == len(set(read_list(name))) == count


def _drop(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


HALF_THERE = [  # (layout, what to remove or break, the sentence's telling part)
    ("torchvision", "ILSVRC2012_img_val.tar", r"torchvision layout .* lacks ILSVRC2012_img_val.tar \(or the val/ folder"),
    ("torchvision", "ILSVRC2012_devkit_t12.tar.gz", r"lacks ILSVRC2012_devkit_t12.tar.gz$"),
    ("prepared", "val", r"prepared layout .* lacks val/ beside train/"),
    ("kaggle", "LOC_val_solution.csv", r"Kaggle layout .* lacks LOC_val_solution.csv$"),
    ("kaggle", "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000003.JPEG",
     r"LOC_val_solution.csv labels 1 image\(s\) that ILSVRC/Data/CLS-LOC/val lacks, the first ILSVRC2012_val_00000003"),
    ("kaggle", "LOC_synset_mapping.txt", r"lacks LOC_synset_mapping.txt$"),
]


@pytest.mark.parametrize("layout, remove, message", HALF_THERE)
def test_a_half_there_copy_is_named_in_one_sentence(layout, remove, message, copies):
    root = copies(layout)
    _drop(root / "imagenet" / remove)
    with pytest.raises(EvalsuiteError, match=message) as err:
        build_dataset("imagenet", root)
    assert "\n" not in str(err.value)


def test_unsorted_val_and_odd_class_folders_are_named(copies):
    root = copies("prepared")
    val = root / "imagenet" / "val"
    for image in list(val.glob("*/*.JPEG")):
        image.rename(val / image.name)
    for folder in val.iterdir():
        if folder.is_dir():
            folder.rmdir()
    with pytest.raises(EvalsuiteError, match=r"val/ .* has no nXXXXXXXX class folder but 8 images lie loose in it"):
        build_dataset("imagenet", root)
    (root / "imagenet" / "train" / "goldfish").mkdir()
    with pytest.raises(EvalsuiteError, match=r"has folder 'goldfish', which is not a WordNet id"):
        build_dataset("imagenet", root)


def test_nothing_there_lists_the_layouts_and_that_download_cannot_help(tmp_path):
    with pytest.raises(EvalsuiteError, match=r"ImageNet was not found .* ILSVRC2012_img_train.tar.*; --download cannot"):
        build_dataset("imagenet", tmp_path, download=True)


def test_eval_row_states_layout_test_set_and_held_out_slice(copies, tmp_path, one_thread):
    root = copies("kaggle")
    assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", "imagenet_1pct,imagenet", "--data-root",
                 str(root), "--tasks", "knn,linear", "--results", str(tmp_path / "rows"), "--quiet",
                 "--cfg-options", "knn.ks=[1]", "knn.headline_k=1", "features.resize=native", "linear.wd_num=2"]) == 0
    rows = {(r["dataset"], r["task"]): r for r in (json.loads(p.read_text()) for p in (tmp_path / "rows").rglob("*.json"))}
    knn, linear = rows["imagenet", "knn"], rows["imagenet", "linear"]
    assert knn["extra"]["bank_size"] == 36 and knn["extra"]["test_size"] == 8  # all of train; val is the test set
    assert rows["imagenet_1pct", "knn"]["extra"]["bank_size"] == 20  # the subset only
    assert "kaggle layout" in knn["split"]["note"] and "val: 16 images held out" in knn["split"]["note"]
    split = linear["extra"]["split"]
    assert split["val_source"].startswith("16 images held out of train") and split["sizes"] == {"train": 20, "val": 16,
                                                                                                 "test": 8}
    subset = rows["imagenet_1pct", "linear"]["extra"]["split"]  # held out of the 20 subset images, not beyond them
    assert subset["val_source"] == "stratified 20% of train" and subset["sizes"] == {"train": 16, "val": 4, "test": 8}


def test_attentive_row_says_its_val_was_held_out_of_train(copies, tmp_path, one_thread):
    """The attentive probe chooses on the same held-out slice as linear, and its row says so (it
    once wrote 'official' for any dataset with a val split)."""
    root = copies("prepared")
    assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", "imagenet", "--data-root", str(root),
                 "--tasks", "attentive", "--results", str(tmp_path / "rows"), "--quiet", "--cfg-options",
                 "features.resize=native", "attentive.epochs=1", "attentive.lrs=[1e-3]", "attentive.wds=[1e-3]"]) == 0
    (row,) = [json.loads(p.read_text()) for p in (tmp_path / "rows").rglob("*.json")]
    assert row["extra"]["val_source"].startswith("16 images held out of train, 10 per class")
