"""Atomic writes: a failure mid-write leaves neither the target nor a temp file behind."""

import pytest
import torch
from torch.utils.data import Dataset

from evalsuite.atomic import atomic_path, write_text
from evalsuite.features import DecodedCache


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "sub" / "row.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["row.json"]


class _BreaksAt(Dataset):
    """uint8 images that fail to decode at index ``bad``."""

    def __init__(self, n: int, bad: int) -> None:
        self.n, self.bad = n, bad

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if i == self.bad:
            raise OSError("truncated image file")
        return torch.zeros(3, 4, 4, dtype=torch.uint8), i


def test_interrupted_decoding_leaves_no_cache_entry(tmp_path):
    cache = DecodedCache(tmp_path / "features")
    with pytest.raises(OSError):
        cache.get_or_build("k", _BreaksAt(10, bad=7), 0, 4, "decode", True)
    assert list(cache.root.iterdir()) == []
    images, targets = cache.get_or_build("k", _BreaksAt(10, bad=-1), 0, 4, "decode", True)
    assert images.shape == (10, 3, 4, 4) and targets.tolist() == list(range(10))


def test_decoding_leaves_the_global_rng_alone(tmp_path):
    """A seeded run must do the same whether the decoded cache was cold or warm."""
    cache = DecodedCache(tmp_path / "features")
    draws = []
    for _ in range(2):  # cold, then warm
        torch.manual_seed(0)
        cache.get_or_build("k", _BreaksAt(10, bad=-1), 0, 4, "decode", True)
        draws.append(torch.rand(3))
    torch.manual_seed(0)
    torch.testing.assert_close(draws[0], torch.rand(3))
    torch.testing.assert_close(draws[1], draws[0])
