"""Training data as uint8 batches: in device memory for small datasets, else a decoding DataLoader.

Either way a batch is ``{'inputs': (N, 3, S, S) uint8, 'labels': (N,) int64}`` and all randomness
of the views happens in the model's data preprocessor. Under DDP, every process walks the same
seeded global permutation and takes its own slice of each global batch, so W processes with
batch B see exactly the batches one process with batch W * B would.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision.transforms import v2 as T

from evalsuite.datasets import build_dataset
from evalsuite.datasets.base import DatasetSpec
from evalsuite.errors import EvalsuiteError
from evalsuite.cache import DecodedCache, FeatureKey
from evalsuite.imaging import Transformed, loader_workers, source_of
from evalsuite.pretrain.dist import world


class _Epoch:
    """The ``sampler`` whose ``set_epoch`` mmengine's DistSamplerSeedHook calls."""

    def __init__(self) -> None:
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class TensorBatches:
    """Batches from one uint8 tensor (N, 3, S, S), reshuffled per epoch from (seed, epoch).

    Args:
        images: (N, 3, S, S) uint8, on the training device when it fits.
        labels: (N,) int64.
        batch_size: per-process batch; the last incomplete global batch is dropped.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int = 0) -> None:
        self.images, self.labels, self.batch_size, self.seed = images, labels, batch_size, seed
        self.sampler = _Epoch()
        self.dataset = None  # mmengine's loops look for ``dataloader.dataset.metainfo``

    def _global(self) -> int:
        return self.batch_size * world()[1]

    def __len__(self) -> int:
        return len(self.labels) // self._global()

    def __iter__(self):
        rank, _ = world()
        g = torch.Generator().manual_seed(self.seed * 100003 + self.sampler.epoch)
        perm = torch.randperm(len(self.labels), generator=g).to(self.images.device)
        size = self._global()
        for i in range(len(self)):
            idx = perm[i * size + rank * self.batch_size: i * size + (rank + 1) * self.batch_size]
            yield {"inputs": self.images.index_select(0, idx), "labels": self.labels.index_select(0, idx.to(self.labels.device))}


def _square(size: int) -> T.Compose:
    """PIL image -> (3, size, size) uint8; nothing random happens in workers."""
    return T.Compose([T.PILToTensor(), T.Resize(size, antialias=True), T.CenterCrop(size)])


class _UInt8(Dataset):
    """Decode and resize to a fixed square uint8 tensor, as a batch dict for the streaming loader."""

    def __init__(self, base: Dataset, size: int) -> None:
        self.base = base
        self.transform = _square(size)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        img, target = self.base[i]
        return {"inputs": self.transform(img), "labels": torch.as_tensor(target, dtype=torch.int64)}


def store_size(spec: DatasetSpec, cfg: dict) -> int:
    """Side of the stored uint8 images: ``data.store_size``, or the evaluation side for small images."""
    if cfg.get("store_size"):
        return int(cfg["store_size"])
    return max(spec.native_size, 32) if spec.small_images else 256


def split_workers(cfg: dict, spec: DatasetSpec, split: str) -> int:
    """Loader processes for one split: ``data.num_workers``, else the evaluation's rule
    (``evalsuite.imaging.loader_workers``: none for small splits, one per core otherwise)."""
    return loader_workers(cfg.get("num_workers", -1), len(spec.splits[split]))


def decode_split(spec: DatasetSpec, split: str, size: int, workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole split as (N, 3, size, size) uint8 and (N,) labels, decoded once by a worker pool into
    the evaluation's decoded-image cache (``evalsuite.cache.DecodedCache``), so later runs on the
    same split skip the decode."""
    base = spec.splits[split]
    key = FeatureKey("", "", spec.name, split, f"square{size}", len(base), source_of(base)).images_key()
    got = DecodedCache().get_or_build(key, Transformed(base, _square(size)), workers, 512,
                                      f"decoding {spec.name}/{split}", quiet=True)
    if got is None:
        raise EvalsuiteError(f"dataset {spec.name!r} {split} at {size} px is too large to hold in memory; "
                             "set data.in_memory=False to stream it")
    images, labels = got
    return torch.from_numpy(np.array(images)), labels.long()


def build_train_data(cfg: dict, batch_size: int, device: torch.device, seed: int):
    """Return (train batches, DatasetSpec, in-memory flag) for the recipe's ``data`` dict."""
    spec = build_dataset(cfg["dataset"], cfg.get("root", "data"), cfg.get("download", False))
    size = store_size(spec, cfg)
    workers = split_workers(cfg, spec, "train")
    if cfg.get("in_memory", spec.small_images):
        images, labels = decode_split(spec, "train", size, workers)
        if cfg.get("limit"):  # a seeded random subset of N images (tests, benchmarks); folders are class-sorted
            keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[: cfg["limit"]]
            images, labels = images[keep], labels[keep]
        if cfg.get("on_device", True):
            images, labels = images.to(device), labels.to(device)
        return TensorBatches(images, labels, batch_size, seed), spec, True
    dataset = _UInt8(spec.splits["train"], size)
    rank, size_w = world()
    sampler = DistributedSampler(dataset, size_w, rank, shuffle=True, seed=seed, drop_last=True)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=True,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    return loader, spec, False
