"""Images to backbone features: the steps evaluation and pre-training share.

Workers only decode and resize to uint8; normalisation happens on the device; the backbone runs in
``eval()`` under ``torch.inference_mode`` (BN uses its running statistics, as in every
frozen-feature protocol), on CUDA with bf16 autocast and channels_last. Evaluation's extraction
(``evalsuite.features``) and pre-training's data and kNN monitor (``evalsuite.pretrain``) both
stand on this module, and it imports neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from evalsuite.datasets.images import READ_ERRORS, bad_image, default_workers
from evalsuite.errors import FeaturesRefused
from evalsuite.preprocess import IMAGENET

#: The split size below which loading stays in-process.
SMALL_SPLIT = 5000


def loader_workers(setting: int, n: int) -> int:
    """A ``num_workers`` setting for a split of ``n`` images: -1 means none for small splits
    (process start-up costs more than it saves), else ``default_workers()``."""
    if setting >= 0:
        return setting
    return 0 if n < SMALL_SPLIT else default_workers()


def compute_precision(device: torch.device) -> str:
    """The precision the backbone's forward runs in (``forward_stream``): bf16 autocast on CUDA,
    float32 on the CPU. Features differ in their low bits between the two, so it is part of the
    cache key and of every row's protocol id."""
    return "bf16" if device.type == "cuda" else "fp32"


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


class Transformed(Dataset):
    """``base`` with ``transform`` applied to each image; a damaged file is one sentence naming it."""

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


def prepare(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in eval mode on ``device`` (channels_last on CUDA)."""
    model.eval().to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def forward_stream(model: nn.Module, batches: Iterable[torch.Tensor], device: torch.device,
                   stats: tuple = IMAGENET) -> Iterator[torch.Tensor]:
    """uint8 batches (B, 3, H, W) -> features (B, D) float32 on ``device``, one per batch; ``model``
    as it is (the caller puts it in eval mode).

    One inference-mode, autocast region spans the whole pass: autocast keeps its bf16 copies of
    the weights only while it stays entered, so entering it per batch would re-cast every weight
    every batch. The caller's code between batches runs inside that region too.
    """
    first = True
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=compute_precision(device) == "bf16"):
        for images in batches:
            out = model(normalize_batch(images, device, stats))
            if first:
                check_feature_size(model, out, tuple(images.shape))
                first = False
            yield out.float()  # (B, D)


def forward_batches(model: nn.Module, batches: Iterable[torch.Tensor], device: torch.device,
                    stats: tuple = IMAGENET) -> torch.Tensor:
    """``forward_stream`` concatenated: (N, D) float32 on ``device``. The concatenation happens
    after leaving inference mode, so the result is an ordinary tensor a probe's autograd may use."""
    feats = list(forward_stream(model, batches, device, stats))
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
