"""The disk caches, all under one root (``evalsuite.paths.cache_root``), one folder per kind
(``evalsuite.paths.CACHE_FOLDERS``).

``shards/``: a split's frozen features and targets, keyed by ``FeatureKey``, in shards of
``SHARD_IMAGES`` images, each written as it completes, so a killed extraction resumes from its last
complete shard (``ShardWriter``); ``features/``: whole-split entries written before shards existed,
still read; ``decoded/``: a split's decoded uint8 images (``DecodedCache``), shared by every
checkpoint and by pre-training. Every file is written atomically (``evalsuite.atomic``) and an
unreadable entry is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from evalsuite.atomic import atomic_path, reclaim_temp, write_text
from evalsuite.paths import cache_root
from evalsuite.progress import progress

#: Largest decoded split kept as a uint8 array (CIFAR-10 train at 32 px is 154 MB; at 224 px, 7.5 GB).
MAX_DECODED_BYTES = 8 << 30
#: Images per feature shard: what a killed extraction may have to redo (at D = 1,024 in float32, 41 MB).
SHARD_IMAGES = 10_000
#: How features may be stored; float16 halves the cache and rounds the features the tasks see.
STORAGE = ("float32", "float16")


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
    storage: str = "float32"  # STORAGE: the dtype the features are stored in

    def fields(self) -> dict:
        """The key as stored; an empty ``labels`` and the default ``storage`` are left out, so
        entries made before those fields existed keep their digest."""
        omit = {"labels": "", "storage": "float32"}
        return {k: v for k, v in self.__dict__.items() if k not in omit or v != omit[k]}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.fields(), sort_keys=True).encode()).hexdigest()[:32]

    def images_key(self) -> str:
        """The part that decoded images (and their cached targets) depend on: everything but the
        checkpoint, arch, precision and storage."""
        skip = ("checkpoint_sha256", "arch", "precision", "storage")
        return json.dumps({k: v for k, v in self.fields().items() if k not in skip}, sort_keys=True)


class DecodedCache:
    """Decoded uint8 splits as ``.npy`` files (memory-mapped on read), written atomically, under
    ``cache_root(root)/decoded``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = cache_root(root) / "decoded"
        reclaim_temp(self.root)  # what a run killed while decoding left behind

    def paths(self, key: str) -> tuple[Path, Path]:
        """The entry's two files: decoded images (.npy) and targets (.pt)."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.root / f"{digest}.npy", self.root / f"{digest}.targets.pt"

    def get_or_build(self, key: str, dataset: Dataset, num_workers: int, batch_size: int,
                     desc: str, quiet: bool) -> tuple[np.ndarray, torch.Tensor] | None:
        """The decoded split, building it on first use; None when it would exceed the size cap."""
        images_path, targets_path = self.paths(key)
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
    """Features per ``FeatureKey``: sharded entries under ``shards/``, whole-split ``.pt`` entries of
    earlier versions under ``features/`` (read, never written); an unreadable entry is recomputed.
    ``decoded`` is the ``DecodedCache`` of the same root."""

    def __init__(self, root: str | Path | None = None, shard_images: int = SHARD_IMAGES) -> None:
        self.top = cache_root(root)
        self.root, self.shards = self.top / "features", self.top / "shards"
        self.shard_images = shard_images
        reclaim_temp(self.root)
        self.decoded = DecodedCache(self.top)

    def path(self, key: FeatureKey) -> Path:
        """Where an earlier version wrote the whole split in one file."""
        return self.root / f"{key.digest()}.pt"

    def folder(self, key: FeatureKey) -> Path:
        return self.shards / key.digest()

    def get(self, key: FeatureKey) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(features (N, D) float32, targets) of a complete entry, else None."""
        got = ShardWriter(self.folder(key), key, self.shard_images, create=False).load()
        return got if got is not None else self._get_whole(key)

    def _get_whole(self, key: FeatureKey):
        path = self.path(key)
        if path.is_file():
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if blob.get("key") == key.fields():
                    return blob["features"], blob["targets"]
            except Exception:  # a corrupted cache entry is recomputed, never trusted
                pass
        return None

    def writer(self, key: FeatureKey) -> ShardWriter:
        """The entry's writer, resuming after its last complete shard (an entry whose shards are
        all there but do not load is started afresh)."""
        writer = ShardWriter(self.folder(key), key, self.shard_images)
        if writer.done == writer.total and writer.load() is None:
            writer.discard()
            writer = ShardWriter(self.folder(key), key, self.shard_images)
        return writer


def _span(name: str) -> tuple[int, int] | None:
    """'0000000000-0000010000.features.npy' -> (0, 10000)."""
    head = name.split(".", 1)[0]
    start, _, stop = head.partition("-")
    return (int(start), int(stop)) if start.isdigit() and stop.isdigit() else None


class ShardWriter:
    """One sharded feature entry: ``key.json`` and, per shard of images [a, b), the files
    ``a-b.targets.npy`` then ``a-b.features.npy`` (the second one's presence marks the shard
    complete), each written atomically. ``done`` counts the images of the complete shards from 0.

    Args:
        folder: the entry's folder; key: its ``FeatureKey`` (``size`` images in all).
        shard_images: images per shard written from here on.
        create: writing: clear the shards of a damaged or foreign entry; the first shard writes
            ``key.json`` (False: only read what is there). Processes writing one entry at once
            write the same shards, each file replaced atomically.
        span: the images [start, stop) this writer fills (one process's part of a split extracted
            across processes, ``evalsuite.features``); ``done`` then counts from ``start``.
    """

    def __init__(self, folder: Path, key: FeatureKey, shard_images: int = SHARD_IMAGES, create: bool = True,
                 span: tuple[int, int] | None = None) -> None:
        self.folder, self.key, self.shard_images = folder, key, shard_images
        self.total, self.dtype = key.size, np.dtype(key.storage)
        self.start, self.stop = span or (0, key.size)
        self.done = self._complete() if self._key_matches() else self.start
        self._features: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        if create:
            reclaim_temp(folder)
            if (folder / "key.json").exists() and not self._key_matches():  # damaged or foreign: start afresh
                for stale in folder.glob("*.npy"):
                    stale.unlink(missing_ok=True)

    def _key_matches(self) -> bool:
        try:
            return json.loads((self.folder / "key.json").read_text()) == self.key.fields()
        except (OSError, ValueError):
            return False

    def spans(self, at: int = 0) -> list[tuple[int, int]]:
        """The complete shards' image ranges, in order, as far as they run on from ``at`` without a gap."""
        found = sorted(s for p in self.folder.glob("*.features.npy") if (s := _span(p.name)) is not None
                       and (self.folder / p.name.replace(".features.", ".targets.")).is_file())
        spans = []
        for start, stop in found:
            if start == at and stop > start:
                spans.append((start, stop))
                at = stop
        return spans

    def _complete(self) -> int:
        spans = [(a, b) for a, b in self.spans(self.start) if b <= self.stop] if self.folder.is_dir() else []
        return spans[-1][1] if spans else self.start

    def add(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        """Features (B, D) and targets (B, ...) of the next B images; every full shard is written."""
        self._features.append(features.cpu())
        self._targets.append(targets.cpu())
        buffered = sum(len(f) for f in self._features)
        while buffered and (buffered >= self.shard_images or self.done + buffered >= self.stop):
            feats, targs = torch.cat(self._features), torch.cat(self._targets)
            n = min(self.shard_images, len(feats))
            self._write(feats[:n], targs[:n])
            self._features, self._targets = [feats[n:]], [targs[n:]]
            buffered -= n

    def _write(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        if self.done == self.start:  # this writer's first shard (processes' identical writes are atomic)
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text(self.folder / "key.json", json.dumps(self.key.fields(), sort_keys=True))
        name = f"{self.done:010d}-{self.done + len(features):010d}"
        with atomic_path(self.folder / f"{name}.targets.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, targets.numpy())
        with atomic_path(self.folder / f"{name}.features.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, features.numpy().astype(self.dtype))
        self.done += len(features)

    def load(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(features (N, D) float32, targets) when every shard is there, else None; each shard is
        memory-mapped, so only the concatenation is read into memory."""
        if not self._key_matches() or self.done != self.total:
            return None
        try:
            spans = self.spans()
            feats = [np.load(self.folder / f"{a:010d}-{b:010d}.features.npy", mmap_mode="r") for a, b in spans]
            targs = [np.load(self.folder / f"{a:010d}-{b:010d}.targets.npy", mmap_mode="r") for a, b in spans]
            if any(f.dtype != self.dtype for f in feats):
                return None
            return (torch.from_numpy(np.concatenate(feats).astype(np.float32, copy=False)),
                    torch.from_numpy(np.concatenate(targs)))
        except (OSError, ValueError):  # a damaged shard: the entry is recomputed
            return None

    def discard(self) -> None:
        """Remove the entry (what it holds must not be used)."""
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Entry:
    """One cache entry as ``evalsuite cache`` lists it: its folder (``kind``), path, the key it was
    stored under (``FeatureKey`` fields; {} for decoded images), size, last change, completeness."""

    kind: str
    path: Path
    key: dict
    bytes: int
    mtime: float
    complete: bool = True


def entries(root: str | Path | None = None) -> list[Entry]:
    """Every entry under the cache root, of every kind."""
    top, out = cache_root(root), []
    for folder in sorted((top / "shards").glob("*/")):
        files = [f for f in folder.iterdir() if f.is_file()]
        try:
            key = json.loads((folder / "key.json").read_text())
            complete = ShardWriter(folder, FeatureKey(**key), create=False).done == key["size"]
        except (OSError, ValueError, TypeError, KeyError):
            key, complete = {}, False
        out.append(Entry("shards", folder, key, sum(f.stat().st_size for f in files),
                         max((f.stat().st_mtime for f in files), default=folder.stat().st_mtime), complete))
    for path in sorted((top / "features").glob("*.pt")):
        try:  # memory-mapped: only the key is read
            key = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("key", {})
        except Exception:  # a damaged entry is listed (and pruned) without its key
            key = {}
        out.append(Entry("features", path, key, path.stat().st_size, path.stat().st_mtime, bool(key)))
    for kind in ("decoded", "tokens"):
        for path in sorted((top / kind).glob("*")):
            if path.is_file() and not path.name.startswith("."):
                out.append(Entry(kind, path, {}, path.stat().st_size, path.stat().st_mtime))
    return out


def remove(entry: Entry) -> None:
    if entry.path.is_dir():
        shutil.rmtree(entry.path, ignore_errors=True)
    else:
        entry.path.unlink(missing_ok=True)
