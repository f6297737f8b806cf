"""Atomic writes: a failure mid-write leaves neither the target nor a temp file behind."""

import pytest
import torch
from torch.utils.data import Dataset

from evalsuite.atomic import atomic_path, write_text
from evalsuite.cache import DecodedCache


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


_KILLED_WHILE_DECODING = """
import os, signal, sys, torch
from evalsuite.cache import DecodedCache

class Dies(torch.utils.data.Dataset):
    def __len__(self): return 8
    def __getitem__(self, i):
        if i == 5:
            os.kill(os.getpid(), signal.SIGKILL)  # as a user's kill -9 or the OOM killer would
        return torch.zeros(3, 4, 4, dtype=torch.uint8), i

DecodedCache(sys.argv[1]).get_or_build("k", Dies(), 0, 2, "decode", True)
"""


def test_temp_files_of_a_killed_run_are_reclaimed_by_the_next(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from evalsuite.atomic import STALE_S, reclaim_temp

    root = tmp_path  # the cache root: decoded images live in root/decoded
    proc = subprocess.run([sys.executable, "-c", _KILLED_WHILE_DECODING, str(root)], env={**os.environ,
                          "OMP_NUM_THREADS": "1"}, capture_output=True)
    assert proc.returncode == -9
    decoded = tmp_path / "decoded"
    (left,) = decoded.glob(".*.tmp")  # what the killed decoding left
    with atomic_path(decoded / "live.npy") as live:  # another run writing right now: kept
        live.write_text("x")
        old = decoded / ".gone.npy.otherhost-1.abcd.tmp"  # an owner this host cannot check: kept a day
        old.write_text("x")
        fresh = decoded / ".new.npy.otherhost-1.efgh.tmp"
        fresh.write_text("x")
        os.utime(old, (time.time() - STALE_S - 60,) * 2)
        DecodedCache(root)  # the next run
        assert not left.exists() and not old.exists()
        assert live.exists() and fresh.exists()
    assert reclaim_temp(decoded) == 0
