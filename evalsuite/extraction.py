"""Frozen-backbone features of uint8 images, batch by batch: the extraction itself, with no cache.

``evalsuite.features`` runs it through the feature cache for the classification data step; the
benchmarks and the fine-tuning tests call ``extract`` directly. Images arrive as uint8
(B, 3, H, W), from a torch ``Dataset`` (streamed through a ``DataLoader``) or from a decoded
array (``evalsuite.cache.DecodedCache``), and are normalised on the device
(``evalsuite.imaging.forward_batches``), so decoding is paid once per dataset, not per checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from evalsuite.cache import ShardWriter
from evalsuite.errors import FeaturesRefused
from evalsuite.imaging import forward_batches, forward_stream, prepare
from evalsuite.preprocess import IMAGENET
from evalsuite.progress import progress

#: Decoded arrays up to this size are copied to the GPU whole rather than batch by batch.
MAX_DEVICE_BYTES = 2 << 30


def extract(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int = 256,
            num_workers: int = 0, desc: str = "features", quiet: bool = False,
            stats: tuple = IMAGENET) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) float32 and targets (N,) or (N, C), on the CPU, streaming ``dataset`` of
    uint8 images; ``stats`` is the (mean, std) normalisation. No cache."""
    return _collect(model, uint8_batches(dataset, None, 0, batch_size, num_workers, device, desc, quiet), device, stats)


def extract_array(model: nn.Module, images: np.ndarray, targets: torch.Tensor, device: torch.device,
                  batch_size: int = 256, desc: str = "features", quiet: bool = False,
                  stats: tuple = IMAGENET) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``extract`` but from decoded uint8 images (N, 3, H, W), e.g. a memory-mapped array."""
    return _collect(model, uint8_batches(images, targets, 0, batch_size, 0, device, desc, quiet), device, stats)


def _collect(model: nn.Module, batches, device: torch.device, stats: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    targets = []
    feats = forward_batches(prepare(model, device), _images(batches, targets), device, stats)
    return feats.cpu(), torch.cat(targets)


def _images(batches, targets: list):
    """The images of (images, targets) ``batches``, appending each batch's targets to ``targets``."""
    for images, target in batches:
        targets.append(target)
        yield images


def check_finite_features(features: torch.Tensor, where: str, nonfinite_weights: int | None,
                          first_image: int = 0, storage: str = "float32") -> None:
    """Features (N, D) with NaN or inf cannot be probed (the probe's eigendecomposition and every
    score would be meaningless): one sentence with how many images and which, before anything
    is cached or fitted. ``first_image``: the index of the first row in its split."""
    bad = (~torch.isfinite(features)).any(1)  # (N,)
    if bool(bad.any()):
        first = bad.nonzero()[0].item() + first_image
        cause = (f"the checkpoint was loaded with {nonfinite_weights} non-finite tensor(s) (--allow-nonfinite)"
                 if nonfinite_weights else "the backbone's forward overflowed or divided by zero; "
                 "'evalsuite inspect CHECKPOINT' shows whether its weights are finite")
        raise FeaturesRefused(f"features of {where} hold NaN or inf for {int(bad.sum())} of the {len(bad)} images "
                              f"from image {first_image} (the first is image {first}): {cause}")
    if storage == "float16" and bool((features.abs() > torch.finfo(torch.float16).max).any()):
        raise FeaturesRefused(f"features of {where} exceed float16's range (65504); set features.storage=float32")


def uint8_batches(images, targets, start: int, batch_size: int, workers: int, device, desc: str, quiet: bool,
                   stop: int | None = None):
    """(uint8 images (B, 3, H, W), targets (B, ...)) from image ``start`` on: from a decoded array
    (``images`` an ndarray, ``targets`` its targets; up to ``MAX_DEVICE_BYTES`` copied to the device
    whole) or streamed from a dataset (``targets`` None) up to image ``stop`` (None: the end)."""
    if targets is None:
        part = range(start, len(images) if stop is None else stop)
        loader = DataLoader(Subset(images, part), batch_size=batch_size, num_workers=workers,
                            pin_memory=device.type == "cuda")
        yield from progress(loader, len(loader), desc, quiet)
        return
    rest = images[start:]
    whole = torch.from_numpy(np.array(rest)).to(device) if rest.nbytes <= MAX_DEVICE_BYTES else None
    starts = range(0, len(rest), batch_size)
    for i in progress(starts, len(starts), desc, quiet):
        batch = whole[i:i + batch_size] if whole is not None else torch.from_numpy(np.array(rest[i:i + batch_size]))
        yield batch, targets[start + i:start + i + batch_size]


def extract_into(writer: ShardWriter, model: nn.Module, batches, device: torch.device, stats: tuple,
                 check) -> None:
    """Features of (images, targets) ``batches`` into ``writer``, shard by shard; ``check(features,
    first_image)`` sees each batch before it is stored."""
    targets, at = [], writer.done
    for out in forward_stream(prepare(model, device), _images(batches, targets), device, stats):
        check(out, at)
        writer.add(out, targets.pop(0))
        at += len(out)


