"""Bad data in an image folder: unreadable files named or skipped and counted, empty and missing
classes, and every PIL mode a user's folder may hold (L, RGBA, CMYK, palette, 16-bit)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evalsuite.cli import main
from evalsuite.datasets import build_dataset
from evalsuite.datasets.images import load_rgb, to_rgb
from evalsuite.errors import EvalsuiteError
from evalsuite.results import read_rows

KNN = ["--tasks", "knn", "--quiet", "--cfg-options", "knn.ks=[1,3]", "knn.headline_k=1"]


def _folder(root, n=4, size=16, classes=("cat", "dog")):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for ci, c in enumerate(classes):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = np.clip(rng.normal(60 + 120 * ci, 20, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{i}.jpg", quality=95)
    return root


def _eval(root, results, *extra):
    return main(["eval", "random", "--arch", "resnet_tiny", "--datasets", f"imagefolder:{root}",
                 "--results", str(results), *extra, *KNN])


def _truncate(path):
    path.write_bytes(path.read_bytes()[:200])  # a download cut short: header kept, scan data gone


@pytest.mark.parametrize("damage, cause", [
    (_truncate, "OSError"),
    (lambda p: p.write_text("<html>404 Not Found</html>"), "UnidentifiedImageError"),  # a saved error page
    (lambda p: p.write_bytes(b""), "UnidentifiedImageError"),
])
def test_unreadable_image_is_named_in_one_sentence(tmp_path, capsys, isolated_cache, damage, cause):
    root = _folder(tmp_path / "data")
    bad = root / "test" / "dog" / "2.jpg"
    damage(bad)
    assert _eval(root, tmp_path / "res") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert f"image {str(bad)!r} cannot be read ({cause}" in err and "--skip-bad-images" in err
    assert not list((tmp_path / "res").glob("*.json"))
    # found while decoding test/: train's features, complete and valid, stay cached; nothing half-written
    left = [p.name for p in isolated_cache.rglob("*") if p.is_file()]
    # decoded train (images, targets) and its sharded features (key.json, one shard's targets and features)
    assert len(left) == 5 and not [n for n in left if n.endswith(".tmp")]


def test_skip_bad_images_counts_them_in_the_row(tmp_path):
    root = _folder(tmp_path / "data")
    _truncate(root / "train" / "cat" / "0.jpg")
    (root / "test" / "dog" / "1.jpg").write_text("not an image")
    assert _eval(root, tmp_path / "res", "--skip-bad-images") == 0
    (row,) = read_rows(tmp_path / "res")
    assert row["split"]["skipped_images"] == {"train": 1, "test": 1}
    assert row["split"]["sizes"] == {"train": 7, "test": 7}
    clean = _folder(tmp_path / "clean")
    assert _eval(clean, tmp_path / "res2", "--skip-bad-images") == 0
    (row2,) = read_rows(tmp_path / "res2")
    assert "skipped_images" not in row2["split"]  # nothing skipped: nothing claimed
    assert row2["protocol_id"] != row["protocol_id"]  # other data, never averaged together


def test_empty_class_in_train_is_refused_in_test_allowed(tmp_path):
    root = _folder(tmp_path / "data")
    for p in (root / "test" / "dog").iterdir():
        p.unlink()
    spec = build_dataset(f"imagefolder:{root}")
    assert spec.classes == ["cat", "dog"] and spec.sizes == {"train": 8, "test": 4}
    (root / "train" / "bird").mkdir()
    with pytest.raises(EvalsuiteError, match="train/ cannot be used .*bird.*needs at least one image"):
        build_dataset(f"imagefolder:{root}")


def test_class_missing_from_test_keeps_train_labels(tmp_path):
    """test/ without 'bird' must still label 'dog' as train does (2, not 1)."""
    root = _folder(tmp_path / "data", classes=("bird", "cat", "dog"))
    for p in (root / "test" / "bird").iterdir():
        p.unlink()
    (root / "test" / "bird").rmdir()
    spec = build_dataset(f"imagefolder:{root}")
    assert spec.classes == ["bird", "cat", "dog"]
    assert sorted(set(spec.splits["test"].targets)) == [1, 2]
    assert _eval(root, tmp_path / "res") == 0


def _mode_images(folder):
    """One file per mode a user's folder may hold, each as PIL writes that mode."""
    folder.mkdir(parents=True, exist_ok=True)
    grey = np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (16, 1))
    Image.fromarray(grey).save(folder / "grey.png")
    Image.fromarray(np.dstack([grey] * 3 + [np.full_like(grey, 128)])).save(folder / "alpha.png")
    Image.fromarray(np.dstack([grey] * 3)).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(np.dstack([grey] * 3)).convert("P").save(folder / "palette.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "deep.png")  # 16-bit PNG
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / "bw.bmp")


def test_every_mode_decodes_to_8bit_rgb(tmp_path):
    _mode_images(tmp_path / "m")
    for path in sorted((tmp_path / "m").iterdir()):
        img = load_rgb(str(path))
        assert img.mode == "RGB" and img.size == (16, 16), path.name
    deep = np.asarray(load_rgb(str(tmp_path / "m" / "deep.png")))
    assert deep[0, :, 0].tolist() == np.linspace(0, 255, 16, dtype=np.uint8).tolist()  # scaled, not clipped to 255
    half = to_rgb(Image.fromarray(np.full((2, 2), 32768, np.uint16)))
    assert np.asarray(half).max() == 128  # torchvision's convert('RGB') gives 255 here


def test_folder_of_mixed_modes_evaluates(tmp_path):
    root = _folder(tmp_path / "data")
    _mode_images(root / "train" / "cat")
    _mode_images(root / "test" / "dog")
    assert _eval(root, tmp_path / "res") == 0
    (row,) = read_rows(tmp_path / "res")
    assert row["split"]["sizes"] == {"train": 14, "test": 14}


def test_folders_are_read_in_torchvisions_order_and_what_is_left_out_is_counted(tmp_path):
    """torchvision's ``ImageFolder`` is the oracle for which images, in which order, with which
    label (nested folders, mixed-case extensions); evalsuite reads the same and additionally
    leaves out hidden entries (``.DS_Store``, macOS ``._0.jpg`` resource forks, Jupyter's
    ``.ipynb_checkpoints/``), counting them and files of no image type."""
    from torchvision.datasets import ImageFolder

    root = _folder(tmp_path / "data", n=3)
    (root / "train" / "cat" / "sub" / "deeper").mkdir(parents=True)
    for i, where in enumerate(["sub", "sub/deeper", "."]):
        Image.new("RGB", (16, 16)).save(root / "train" / "cat" / where / f"x{i}.PNG")
    oracle = [(str(p), t) for p, t in ImageFolder(str(root / "train")).samples]
    assert _eval(root, tmp_path / "clean") == 0
    (root / "train" / "cat" / "notes.txt").write_text("shot on a phone")
    (root / "train" / "README.md").write_text("my data")
    (root / "train" / ".DS_Store").write_bytes(b"\0")
    (root / "train" / "dog" / "._0.jpg").write_bytes(b"\0\5\26\7")  # would fail to decode if read
    (root / "train" / ".ipynb_checkpoints").mkdir()
    (root / "test" / "dog" / ".hidden").mkdir()
    spec = build_dataset(f"imagefolder:{root}")
    assert spec.splits["train"].samples == oracle and spec.classes == ["cat", "dog"]
    assert spec.skipped_files == {"train": {"hidden": 3, "not_image": 2}, "test": {"hidden": 1}}
    assert _eval(root, tmp_path / "res") == 0
    (row,) = read_rows(tmp_path / "res")
    assert row["split"]["skipped_files"] == spec.skipped_files
    (clean,) = read_rows(tmp_path / "clean")  # the same images: the same protocol, and no count claimed
    assert row["protocol_id"] == clean["protocol_id"] and "skipped_files" not in clean["split"]


def test_symlinked_class_folders_are_followed_once(tmp_path, capsys):
    """A subset made by linking class folders (``ln -s /data/full/train/cat subset/train/cat``) is
    read like the real folders; a link back up the tree, or a second name for a folder already
    read, is refused: it would count images twice, under the wrong class."""
    full = _folder(tmp_path / "full")
    subset = tmp_path / "subset"
    for split in ("train", "test"):
        (subset / split).mkdir(parents=True)
        for c in ("cat", "dog"):
            (subset / split / c).symlink_to(full / split / c)
    linked = build_dataset(f"imagefolder:{subset}")
    assert [t for _, t in linked.splits["train"].samples] == [t for _, t in build_dataset(f"imagefolder:{full}").splits["train"].samples]
    assert linked.sizes == {"train": 8, "test": 8}
    (full / "train" / "cat" / "loop").symlink_to("..")
    with pytest.raises(EvalsuiteError, match=r"/full/train/cat/loop' is a symlink to '.*/full/train', a folder that "
                                             "contains it: reading it would loop"):
        build_dataset(f"imagefolder:{full}")
    (full / "train" / "cat" / "loop").unlink()
    (full / "train" / "cat" / "dogs_too").symlink_to(full / "train" / "dog")
    with pytest.raises(EvalsuiteError, match=r"is reached twice, as '.*/train/cat/dogs_too' and as '.*/train/dog'"):
        build_dataset(f"imagefolder:{full}")


def test_one_class_is_refused_for_classification_but_not_for_pretraining(tmp_path, capsys):
    """With one class every prediction is right (top-1 = 1.0 whatever the backbone); a folder of
    unlabelled images in one class is still a pre-training set."""
    root = _folder(tmp_path / "data", classes=("cat",))
    assert _eval(root, tmp_path / "res") == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"evalsuite: error: dataset 'imagefolder:{root}' has only class 'cat'; a classification task needs "
                   "at least two classes (with one, every prediction is right and top-1 is 1.0 whatever the backbone)")
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").rglob("*.json"))
    assert build_dataset(f"imagefolder:{root}").classes == ["cat"]  # the dataset itself is fine (pretrain reads it)
