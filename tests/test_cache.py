"""The feature cache keeps the keys and paths of existing entries, and rows keep their protocol ids,
across the moves of the code that makes them: the literals here were made by the code before the
split of ``evalsuite.features`` (a random ``resnet_tiny`` on digits, CPU)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from evalsuite.cache import DecodedCache, FeatureCache, FeatureKey
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
