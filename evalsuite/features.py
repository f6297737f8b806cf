"""Frozen-backbone features, cached on disk.

The backbone runs in ``eval()`` under ``torch.inference_mode`` (BN uses its running statistics,
as in every frozen-feature protocol); on CUDA with bf16 autocast and channels_last. Workers
only decode and resize to uint8; normalisation happens on the device.

The cache key is (checkpoint sha256, arch, dataset, split, transform, split size, compute
precision, and the dataset's label protocol where it has one), so running other tasks on the
same features extracts nothing the second time.

Decoding is the slow part of extraction (JPEG decode on the CPU runs far below a GPU's forward
rate), and it is the same for every checkpoint. So a split whose decoded uint8 images fit in
``MAX_DECODED_BYTES`` is decoded once into a ``.npy`` array (``DecodedCache``), and every later
checkpoint is fed straight from that array at the model's own speed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2 as T

from evalsuite.atomic import atomic_path, reclaim_temp
from evalsuite.datasets.images import READ_ERRORS, bad_image
from evalsuite.errors import FeaturesRefused
from evalsuite.paths import cache_root
from evalsuite.preprocess import CROP, IMAGENET, MIN_SMALL, RESIZE, Preprocess, is_small  # noqa: F401 (re-exported)
from evalsuite.progress import progress

#: ImageNet channel statistics and the transfer resize/crop: the defaults of ``evalsuite.preprocess``.
MEAN, STD = IMAGENET
#: Largest decoded split kept as a uint8 array (CIFAR-10 train at 32 px is 154 MB; at 224 px, 7.5 GB).
MAX_DECODED_BYTES = 8 << 30
#: Decoded arrays up to this size are copied to the GPU whole rather than batch by batch.
MAX_DEVICE_BYTES = 2 << 30


@dataclass(frozen=True)
class FeatureSettings:
    """A suite's ``features`` dict (``evalsuite.schema`` validates it against these fields).

    Args:
        batch_size: images per forward pass.
        num_workers: data-loading processes; -1: none for small splits, else one per core.
        mode: a ViT's feature mode (``evalsuite.archs.vit.FEATURE_MODES``); None: its default.
        normalize, mean, std, resize: the preprocessing (``evalsuite.preprocess``, which validates
            their values).
    """

    batch_size: int = 256
    num_workers: int = -1
    mode: str | None = None
    normalize: str | bool = "imagenet"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: str | int = "auto"


#: Data-loading processes at most, and the split size below which loading stays in-process.
MAX_WORKERS, SMALL_SPLIT = 16, 5000


def default_workers() -> int:
    """One loading process per core, at most ``MAX_WORKERS``."""
    return min(MAX_WORKERS, os.cpu_count() or 1)


def loader_workers(setting: int, n: int) -> int:
    """A ``num_workers`` setting for a split of ``n`` images: -1 means none for small splits
    (process start-up costs more than it saves), else ``default_workers()``."""
    if setting >= 0:
        return setting
    return 0 if n < SMALL_SPLIT else default_workers()


def compute_precision(device: torch.device) -> str:
    """The precision the backbone's forward runs in (``forward_batches``): bf16 autocast on CUDA,
    float32 on the CPU. Features differ in their low bits between the two, so it is part of the
    cache key and of every row's protocol id."""
    return "bf16" if device.type == "cuda" else "fp32"


def eval_transform(native_size: int, small_input_arch: bool) -> tuple[T.Compose, str]:
    """The default deterministic uint8 transform and its identifier (``evalsuite.preprocess`` with
    ``resize=auto`` for a backbone known only by ``small_input``)."""
    resize = "native" if small_input_arch and is_small(native_size) else "resize256-crop224"
    transform, tid, _ = Preprocess(resize=resize).transform(native_size, None, {})
    return transform, tid


class Transformed(Dataset):
    def __init__(self, base: Dataset, transform) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        try:
            img, target = self.base[i]
        except READ_ERRORS as exc:  # a damaged file of a dataset read by torchvision's own loader
            samples = getattr(self.base, "samples", None) or getattr(self.base, "imgs", None)
            raise bad_image(samples[i][0] if samples else f"item {i} of {type(self.base).__name__}", exc) from None
        return self.transform(img), torch.as_tensor(target)


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
    precision: str = "fp32"  # compute_precision
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


def source_of(dataset: Dataset) -> str:
    """The folder a (possibly wrapped) torchvision-style dataset reads from, '' if it has none."""
    for _ in range(4):
        root = getattr(dataset, "root", None)
        if root is not None:
            return str(Path(root).resolve())
        dataset = getattr(dataset, "dataset", None) or getattr(dataset, "base", None) or getattr(dataset, "detection", None)
        if dataset is None:
            break
    return ""


_STATS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def channel_stats(device: torch.device, dtype: torch.dtype = torch.float32,
                  stats: tuple = IMAGENET) -> tuple[torch.Tensor, torch.Tensor]:
    """``stats`` (mean, std; ImageNet's by default) as (1, 3, 1, 1) tensors on ``device``, made
    once: a fresh host-to-device copy per batch would make the host wait for the GPU every batch."""
    key = (device, dtype, tuple(map(tuple, stats)))
    if key not in _STATS:
        _STATS[key] = tuple(torch.tensor(v, dtype=dtype, device=device).view(1, 3, 1, 1) for v in stats)
    return _STATS[key]


def normalize_batch(images: torch.Tensor, device: torch.device, stats: tuple = IMAGENET) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, H, W) float normalised by ``stats`` (mean, std), on ``device``."""
    mean, std = channel_stats(device, stats=stats)
    x = (images.to(device, non_blocking=True).float().div_(255) - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def _prepare(model: nn.Module, device: torch.device) -> nn.Module:
    model.eval().to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def forward_batches(model: nn.Module, batches: Iterable[torch.Tensor], device: torch.device,
                    stats: tuple = IMAGENET) -> torch.Tensor:
    """uint8 batches (B, 3, H, W) -> features (N, D) float32 on ``device``; ``model`` as it is
    (the caller puts it in eval mode).

    One inference-mode, autocast region spans the whole pass: autocast keeps its bf16 copies of
    the weights only while it stays entered, so entering it per batch would re-cast every weight
    every batch. The concatenation happens after leaving inference mode, so the result is an
    ordinary tensor that a probe's autograd may use.
    """
    feats = []
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=compute_precision(device) == "bf16"):
        for images in batches:
            out = model(normalize_batch(images, device, stats))
            if not feats:
                check_feature_size(model, out, tuple(images.shape))
            feats.append(out.float())  # (B, D)
    return torch.cat(feats)


def check_feature_size(model: nn.Module, out: torch.Tensor, image_shape: tuple) -> None:
    """The first batch's output against the backbone's declared ``num_features``; an undeclared
    size (None) is learned here, so a plain ``pkg.module:callable`` needs no attribute."""
    name = getattr(model, "arch_name", type(model).__name__)
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise FeaturesRefused(f"arch {name!r} gave {shape} for images of shape {image_shape}; a backbone's forward "
                             "must give (N, D) features (flatten or pool its output)")
    declared = getattr(model, "num_features", None)
    if declared is None:
        model.num_features = out.shape[1]
    elif declared != out.shape[1]:
        raise FeaturesRefused(f"arch {name!r} declares num_features={declared} but its forward gives {out.shape[1]} "
                             f"values per image for input {image_shape[1:]}; fix num_features or the forward "
                             "(or drop num_features to have it learned from the first batch)")


def extract(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int = 256,
            num_workers: int = 0, desc: str = "features", quiet: bool = False,
            stats: tuple = IMAGENET) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) float32 and targets (N,) or (N, C), on the CPU, streaming ``dataset``;
    ``stats`` is the (mean, std) normalisation."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, pin_memory=device.type == "cuda")
    targets = []

    def batches():
        for images, target in progress(loader, len(loader), desc, quiet):
            targets.append(target)
            yield images

    feats = forward_batches(_prepare(model, device), batches(), device, stats).cpu()
    return feats, torch.cat(targets)


def extract_array(model: nn.Module, images: np.ndarray, targets: torch.Tensor, device: torch.device,
                  batch_size: int = 256, desc: str = "features", quiet: bool = False,
                  stats: tuple = IMAGENET) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``extract`` but from decoded uint8 images (N, 3, H, W), e.g. a memory-mapped array;
    an array of at most ``MAX_DEVICE_BYTES`` is copied to the device whole."""
    whole = torch.from_numpy(np.array(images)).to(device) if images.nbytes <= MAX_DEVICE_BYTES else None
    starts = range(0, len(images), batch_size)
    batches = (whole[i:i + batch_size] if whole is not None else torch.from_numpy(np.array(images[i:i + batch_size]))
               for i in progress(starts, len(starts), desc, quiet))
    return forward_batches(_prepare(model, device), batches, device, stats).cpu(), targets


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
    """Feature files under ``cache_root(root)/features``, written atomically; an unreadable
    entry is recomputed."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = cache_root(root) / "features"
        reclaim_temp(self.root)
        self.hits = 0
        self.misses = 0

    def path(self, key: FeatureKey) -> Path:
        return self.root / f"{key.digest()}.pt"

    def get(self, key: FeatureKey):
        path = self.path(key)
        if path.is_file():
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if blob.get("key") == key.fields():
                    self.hits += 1
                    return blob["features"], blob["targets"]
            except Exception:  # a corrupted cache entry is recomputed, never trusted
                pass
        self.misses += 1
        return None

    def put(self, key: FeatureKey, features: torch.Tensor, targets: torch.Tensor) -> None:
        with atomic_path(self.path(key)) as tmp:
            torch.save({"key": key.fields(), "features": features, "targets": targets}, tmp)
