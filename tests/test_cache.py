"""The feature cache keeps the keys and paths of existing entries, and rows keep their protocol ids,
across the moves of the code that makes them: the literals here were made by the code before the
split of ``evalsuite.features`` (a random ``resnet_tiny`` on digits, CPU)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from evalsuite.cache import DecodedCache, FeatureCache, FeatureKey, ShardWriter, entries
from evalsuite.cli import main
from evalsuite.results import read_rows

#: digits train through a random resnet_tiny at native 32 px on the CPU.
DIGITS_TRAIN = FeatureKey("random-seed0", "resnet_tiny", "digits", "train", "native32", 1257, "", "fp32")


def test_known_feature_keys_keep_their_digests(tmp_path):
    assert DIGITS_TRAIN.digest() == "ae25d4e6e4c41b68732cb0f49de43c75"
    assert hashlib.sha256(DIGITS_TRAIN.images_key().encode()).hexdigest()[:32] == "84c011ea9520c644ef43f8900bf19fc6"
    voc = FeatureKey("ab" * 32, "vit_small[cls]", "voc2007", "test", "resize256-crop224", 4952, "/data/VOC", "bf16",
                     "difficult-ignored")
    assert voc.digest() == "32d36140fccb95fb62fb627c6c6ce498"
    assert hashlib.sha256(voc.images_key().encode()).hexdigest()[:32] == "0345549c743931b205eeb236e58cf804"
    # one root: the whole-split entry and the decoded images sit in sibling folders of it
    cache = FeatureCache(tmp_path)
    assert cache.path(DIGITS_TRAIN) == tmp_path / "features" / "ae25d4e6e4c41b68732cb0f49de43c75.pt"
    assert DecodedCache(tmp_path).root == tmp_path / "decoded" == cache.decoded.root


def test_a_known_row_keeps_its_protocol_id_and_cache_entry(tmp_path, isolated_cache):
    args = ["eval", "random", "--arch", "resnet_tiny", "--datasets", "digits", "--tasks", "knn", "--quiet",
            "--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    (row,) = read_rows(os.environ["EVALSUITE_RESULTS"])
    assert row["protocol_id"] == "dfe8c666e1"
    assert Path(row["_file"]).name == "random-resnet_tiny__knn__digits__seed0__dfe8c666e1.json"
    assert FeatureCache(tmp_path / "cache").get(DIGITS_TRAIN) is not None


def test_shards_split_uneven_batches_and_load_back(tmp_path):
    key = FeatureKey("sha", "arch", "d", "train", "t", 10)
    writer = ShardWriter(tmp_path / "e", key, shard_images=4)
    feats, targets = torch.randn(10, 3), torch.arange(10)
    for a, b in ((0, 3), (3, 9), (9, 10)):  # batches that straddle the shard boundaries
        writer.add(feats[a:b], targets[a:b])
    assert writer.spans() == [(0, 4), (4, 8), (8, 10)] and writer.done == 10
    got = writer.load()
    assert torch.equal(got[0], feats) and torch.equal(got[1], targets)
    reopened = ShardWriter(tmp_path / "e", key, shard_images=4)
    assert reopened.done == 10, "a complete entry is kept when opened again"
    other = ShardWriter(tmp_path / "e", FeatureKey("sha", "arch", "d", "test", "t", 10), shard_images=4)
    assert other.done == 0 and not list((tmp_path / "e").glob("*.npy")), "a foreign key.json starts the entry afresh"


def test_entries_written_before_shards_are_still_read(tmp_path):
    cache = FeatureCache(tmp_path)
    feats, targets = torch.randn(5, 4), torch.arange(5)
    cache.root.mkdir(parents=True)
    torch.save({"key": DIGITS_TRAIN.fields(), "features": feats, "targets": targets}, cache.path(DIGITS_TRAIN))
    got = cache.get(DIGITS_TRAIN)
    assert torch.equal(got[0], feats) and torch.equal(got[1], targets)
    assert cache.get(FeatureKey(**{**DIGITS_TRAIN.fields(), "storage": "float16"})) is None


#: Killed by SIGKILL while writing the 4th shard of digits/train (a temp file half-written beside
#: three complete shards): what a preempted job leaves.
DIES = """
import os, signal, sys
import evalsuite.cache as cache
from evalsuite.atomic import atomic_path
from evalsuite.cli import main
real = cache.ShardWriter._write
def dying(self, features, targets):
    if self.key.split == "train" and self.done == 300:
        with atomic_path(self.folder / "0000000300-0000000400.features.npy") as tmp:
            tmp.write_bytes(b"half a shard")
            os.kill(os.getpid(), signal.SIGKILL)
    real(self, features, targets)
cache.ShardWriter._write = dying
sys.exit(main(sys.argv[1:]))
"""


def _eval(cache_dir, results, *options):
    return ["eval", "random", "--arch", "resnet_tiny", "--datasets", "digits", "--tasks", "knn", "--quiet",
            "--device", "cpu", "--cache-dir", str(cache_dir), "--results", str(results), "--cfg-options",
            "knn.ks=[1,5]", "knn.headline_k=5", "features.shard_images=100", "features.batch_size=100", *options]


def test_a_killed_extraction_resumes_from_its_last_complete_shard(tmp_path, monkeypatch, one_thread):
    import evalsuite.extraction as features

    killed = subprocess.run([sys.executable, "-c", DIES, *_eval(tmp_path / "c", tmp_path / "r")],
                            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (entry,) = [e for e in entries(tmp_path / "c") if e.kind == "shards"]
    assert not entry.complete and len(list(entry.path.glob("*.features.npy"))) == 3
    assert list(entry.path.glob(".*.tmp")), "the killed writer's temp file is there to be reclaimed"

    seen = []
    real = features.forward_stream
    monkeypatch.setattr(features, "forward_stream",
                        lambda m, batches, *a: real(m, (seen.append(len(x)) or x for x in batches), *a))
    assert main(_eval(tmp_path / "c", tmp_path / "r")) == 0
    assert sum(seen) == (1257 - 300) + 540, "only the images after the last complete shard were extracted"
    assert not list(entry.path.glob(".*.tmp"))
    seen.clear()
    assert main(_eval(tmp_path / "whole", tmp_path / "w")) == 0  # one uninterrupted run
    assert sum(seen) == 1257 + 540
    resumed, whole = FeatureCache(tmp_path / "c").get(DIGITS_TRAIN), FeatureCache(tmp_path / "whole").get(DIGITS_TRAIN)
    assert torch.equal(resumed[0], whole[0]) and torch.equal(resumed[1], whole[1])
    (a,), (b,) = read_rows(tmp_path / "r"), read_rows(tmp_path / "w")
    assert a["value"] == b["value"] and a["protocol_id"] == b["protocol_id"]

    # float16 storage: rounded features, a key, a row and a protocol id of their own
    assert main(_eval(tmp_path / "whole", tmp_path / "h", "features.storage=float16")) == 0
    half = FeatureKey(**{**DIGITS_TRAIN.fields(), "storage": "float16"})
    assert half.digest() != DIGITS_TRAIN.digest()
    assert torch.equal(FeatureCache(tmp_path / "whole").get(half)[0], whole[0].half().float())
    first = "0000000000-0000000100.features.npy"
    sizes = [(FeatureCache(tmp_path / "whole").folder(k) / first).stat().st_size for k in (half, DIGITS_TRAIN)]
    assert sizes[0] - 128 == (sizes[1] - 128) // 2  # the .npy header is 128 bytes
    (h,) = read_rows(tmp_path / "h")
    assert h["feature_storage"] == "float16" and h["protocol_id"] != b["protocol_id"]
    assert "feature_storage" not in b


def test_cache_command_lists_sizes_per_checkpoint_and_prunes(tmp_path, capsys):
    root = tmp_path / "c"
    for sha, dataset, n in (("aaaaaaaa11", "digits", 10), ("aaaaaaaa11", "cifar10", 4), ("bbbbbbbb22", "digits", 10)):
        writer = FeatureCache(root, shard_images=4).writer(FeatureKey(sha, "resnet_tiny", dataset, "train", "t", n))
        writer.add(torch.zeros(n if sha == "aaaaaaaa11" else 5, 8), torch.zeros(n if sha == "aaaaaaaa11" else 5))
    (root / "decoded").mkdir()
    (root / "decoded" / "x.npy").write_bytes(b"0" * 2048)
    assert main(["cache", "--cache-dir", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"cache root {root}: 4 entries")
    lines = {tuple(line.split()[:4]): line for line in out[1:]}
    assert lines[("shards", "aaaaaaaa11", "resnet_tiny", "digits")].split()[4] == "1"
    assert "(1 partial)" in lines[("shards", "bbbbbbbb22", "resnet_tiny", "digits")]  # 5 of its 10 images
    assert "2.0 KB" in lines[("decoded", "-", "-", "-")]

    assert main(["cache", "prune", "--cache-dir", str(root), "--checkpoint", "aaaaaaaa", "--dry-run"]) == 0
    assert capsys.readouterr().out.count("would remove") == 2 and len(entries(root)) == 4
    assert main(["cache", "prune", "--cache-dir", str(root), "--checkpoint", "aaaaaaaa"]) == 0
    assert {e.key.get("checkpoint_sha256") for e in entries(root)} == {"bbbbbbbb22", None}
    old = time.time() - 3 * 86400
    os.utime(root / "decoded" / "x.npy", (old, old))
    assert main(["cache", "prune", "--cache-dir", str(root), "--older-than", "2d"]) == 0
    assert [e.kind for e in entries(root)] == ["shards"]
    capsys.readouterr()
    assert main(["cache", "prune", "--cache-dir", str(root), "--older-than", "soon"]) == 2
    assert "--older-than 'soon' is not an age" in capsys.readouterr().err
    assert main(["cache", "prune", "--cache-dir", str(root)]) == 2
