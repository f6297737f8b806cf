"""The disk caches, all under one root (``evalsuite.paths.cache_root``), one folder per kind.

``features/``: a split's frozen features and targets, keyed by ``FeatureKey``; ``decoded/``: a
split's decoded uint8 images (``DecodedCache``), shared by every checkpoint and by pre-training.
Every entry is written atomically (``evalsuite.atomic``) and an unreadable one is rebuilt, never
trusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from evalsuite.atomic import atomic_path, reclaim_temp
from evalsuite.paths import cache_root
from evalsuite.progress import progress

#: Largest decoded split kept as a uint8 array (CIFAR-10 train at 32 px is 154 MB; at 224 px, 7.5 GB).
MAX_DECODED_BYTES = 8 << 30


@dataclass
class FeatureKey:
    """What cached features depend on; ``source`` is where the images were read from, so the same
    dataset name under another ``--data-root`` never shares an entry."""

    checkpoint_sha256: str
    arch: str
    dataset: str
    split: str
    transform: str
    size: int
    source: str = ""
    precision: str = "fp32"  # evalsuite.imaging.compute_precision
    labels: str = ""  # DatasetSpec.label_protocol: the cached targets were made under it

    def fields(self) -> dict:
        """The key as stored; an empty ``labels`` is left out, so entries made before the field
        existed keep their digest."""
        return {k: v for k, v in self.__dict__.items() if k != "labels" or v}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.fields(), sort_keys=True).encode()).hexdigest()[:32]

    def images_key(self) -> str:
        """The part that decoded images (and their cached targets) depend on: everything but the
        checkpoint, arch and precision."""
        skip = ("checkpoint_sha256", "arch", "precision")
        return json.dumps({k: v for k, v in self.fields().items() if k not in skip}, sort_keys=True)


class DecodedCache:
    """Decoded uint8 splits as ``.npy`` files (memory-mapped on read), written atomically, under
    ``cache_root(root)/decoded``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = cache_root(root) / "decoded"
        reclaim_temp(self.root)  # what a run killed while decoding left behind

    def get_or_build(self, key: str, dataset: Dataset, num_workers: int, batch_size: int,
                     desc: str, quiet: bool) -> tuple[np.ndarray, torch.Tensor] | None:
        """The decoded split, building it on first use; None when it would exceed the size cap."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        images_path, targets_path = self.root / f"{digest}.npy", self.root / f"{digest}.targets.pt"
        if images_path.is_file() and targets_path.is_file():
            try:
                return np.load(images_path, mmap_mode="r"), torch.load(targets_path, weights_only=True)
            except (ValueError, OSError, RuntimeError):
                pass  # a damaged entry is rebuilt
        first, _ = dataset[0]
        if len(dataset) * first.numel() > MAX_DECODED_BYTES:
            return None
        # fork_rng: a DataLoader draws its worker seed from the global RNG, and whether the
        # cache was warm must not change what a seeded run does next.
        with atomic_path(images_path) as tmp, torch.random.fork_rng(devices=[]):
            array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(dataset), *first.shape))
            loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
            targets, at = [], 0
            for images, target in progress(loader, len(loader), desc, quiet):
                array[at:at + len(images)] = images.numpy()
                at += len(images)
                targets.append(target)
            array.flush()
            del array
            targets = torch.cat(targets)
            with atomic_path(targets_path) as tmp_targets:
                torch.save(targets, tmp_targets)
        return np.load(images_path, mmap_mode="r"), targets


class FeatureCache:
    """Feature files under ``cache_root(root)/features``, written atomically; an unreadable
    entry is recomputed."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.top = cache_root(root)
        self.root = self.top / "features"
        reclaim_temp(self.root)
        self.decoded = DecodedCache(self.top)  # the same root

    def path(self, key: FeatureKey) -> Path:
        return self.root / f"{key.digest()}.pt"

    def get(self, key: FeatureKey):
        path = self.path(key)
        if path.is_file():
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if blob.get("key") == key.fields():
                    return blob["features"], blob["targets"]
            except Exception:  # a corrupted cache entry is recomputed, never trusted
                pass
        return None

    def put(self, key: FeatureKey, features: torch.Tensor, targets: torch.Tensor) -> None:
        with atomic_path(self.path(key)) as tmp:
            torch.save({"key": key.fields(), "features": features, "targets": targets}, tmp)
