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
    assert len(left) == 3 and not [n for n in left if n.endswith(".tmp")]  # decoded train + its targets + features


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
