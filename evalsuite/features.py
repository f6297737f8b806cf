"""Frozen-backbone features, cached on disk.

The backbone runs in ``eval()`` under ``torch.inference_mode`` (BN uses its running statistics,
as in every frozen-feature protocol); on CUDA with bf16 autocast and channels_last. Workers
only decode and resize to uint8; normalisation happens on the device.

The cache key is (checkpoint sha256, arch, dataset, split, transform, split size), so running
other tasks on the same features extracts nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2 as T

from evalsuite.progress import progress

#: ImageNet channel statistics, the normalisation every torchvision-style backbone was trained with.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
#: Transfer datasets: resize the short side to 256 and centre-crop 224, the evaluation transform of
#: MoCo/SimSiam's ``main_lincls.py`` (He et al. 2020, Chen & He 2021, App. A).
RESIZE, CROP = 256, 224
#: Small-image datasets (CIFAR, digits) with a small-input arch run at native size, at least 32 px.
MIN_SMALL = 32


def default_cache_dir() -> Path:
    return Path(os.environ.get("EVALSUITE_CACHE", Path.home() / ".cache" / "evalsuite")) / "features"


def eval_transform(native_size: int, small_input_arch: bool) -> tuple[T.Compose, str]:
    """Deterministic uint8 transform and its identifier (part of the cache key and the result row)."""
    if small_input_arch and native_size <= 64:
        side = max(native_size, MIN_SMALL)
        ops, tid = [T.Resize(side), T.CenterCrop(side)], f"native{side}"
    else:
        ops, tid = [T.Resize(RESIZE), T.CenterCrop(CROP)], f"resize{RESIZE}-crop{CROP}"
    return T.Compose([T.PILToTensor(), *ops]), tid


class Transformed(Dataset):
    def __init__(self, base: Dataset, transform) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        img, target = self.base[i]
        return self.transform(img), torch.as_tensor(target)


@dataclass
class FeatureKey:
    checkpoint_sha256: str
    arch: str
    dataset: str
    split: str
    transform: str
    size: int

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.__dict__, sort_keys=True).encode()).hexdigest()[:32]


def normalize_batch(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, H, W) float normalised, on ``device``."""
    x = images.to(device, non_blocking=True).float().div_(255)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def extract(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int = 256,
            num_workers: int = 0, desc: str = "features", quiet: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Return features (N, D) float32 and targets (N,) or (N, C) on the CPU."""
    model.eval().to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=False)
    feats, targets = [], []
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    for images, target in progress(loader, len(loader), desc, quiet):
        with torch.inference_mode(), autocast:
            out = model(normalize_batch(images, device))  # (B, D)
        feats.append(out.float())
        targets.append(target)
    # concatenated outside inference mode, so the result is an ordinary tensor autograd may use
    return torch.cat(feats).cpu(), torch.cat(targets)


class FeatureCache:
    """Feature files under ``root``, written atomically; an unreadable entry is recomputed."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def path(self, key: FeatureKey) -> Path:
        return self.root / f"{key.digest()}.pt"

    def get(self, key: FeatureKey):
        path = self.path(key)
        if path.is_file():
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if blob.get("key") == key.__dict__:
                    self.hits += 1
                    return blob["features"], blob["targets"]
            except Exception:  # a corrupted cache entry is recomputed, never trusted
                pass
        self.misses += 1
        return None

    def put(self, key: FeatureKey, features: torch.Tensor, targets: torch.Tensor) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save({"key": key.__dict__, "features": features, "targets": targets}, tmp)
        tmp.replace(path)
