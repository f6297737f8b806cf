"""Image pipelines shared by the tasks that train on images (finetune, linear_sgd).

Workers only decode, crop and flip to uint8; normalisation (``evalsuite.imaging.normalize_batch``)
happens on the device, as for frozen features. Test images get exactly the frozen-feature
transform (``evalsuite.preprocess.eval_transform``: resize + centre crop, or native size for
small-input archs on small images).
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler, Subset
from torchvision.transforms import v2 as T

from evalsuite.datasets.base import VAL_FRACTION, DatasetSpec, stratified_holdout, training_targets
from evalsuite.imaging import Transformed, loader_workers, normalize_batch
from evalsuite.preprocess import eval_transform
from evalsuite.preprocess import CROP, is_small, native_side
from evalsuite.tasks.metrics import extra_scores, score


def train_side(native_size: int, small_input: bool) -> int:
    """Training crop side: the same side the evaluation transform produces."""
    return native_side(native_size) if small_input and is_small(native_size) else CROP


def train_transform(native_size: int, small_input: bool, scale: tuple[float, float] = (0.08, 1.0),
                    flip: bool = True) -> tuple[T.Compose, str]:
    """uint8 training augmentation and its identifier: random-resized crop (Szegedy et al. 2015,
    ``scale`` the area range) to the evaluation side, then a horizontal flip with probability 1/2."""
    side = train_side(native_size, small_input)
    ops, tid = [T.RandomResizedCrop(side, scale=tuple(scale), antialias=True)], f"rrc{side}-{scale[0]:g}-{scale[1]:g}"
    if flip:
        ops.append(T.RandomHorizontalFlip())
        tid += "-flip"
    return T.Compose([T.PILToTensor(), *ops]), tid


def targets_of(dataset: Dataset) -> np.ndarray:
    """Labels (N,) or multi-hot (N, C) of a split, read without decoding images where possible."""
    for attr in ("targets", "labels"):
        if hasattr(dataset, attr):
            return np.asarray(getattr(dataset, attr))
    return np.stack([np.asarray(dataset[i][1]) for i in range(len(dataset))])


def train_val_split(spec: DatasetSpec, seed: int) -> tuple[Dataset, Dataset, dict]:
    """(train, val, info): the official val split, else the seeded stratified ``VAL_FRACTION`` of
    train that ``EvalContext.protocol_splits`` holds out for the frozen-feature probes."""
    full = spec.splits["train"]
    if "val" in spec.splits:
        return full, spec.splits["val"], {"val_source": spec.val_source, "split_seed": None}
    tr_idx, va_idx = stratified_holdout(targets_of(full), VAL_FRACTION, seed)
    info = {"val_source": f"stratified {VAL_FRACTION:.0%} of train", "split_seed": seed}
    return Subset(full, tr_idx.tolist()), Subset(full, va_idx.tolist()), info


class StreamSampler(Sampler[int]):
    """Indices for ``total`` draws from a dataset of ``n``, a fresh seeded permutation per epoch,
    starting at draw ``start`` (so a resumed run sees the data order it would have seen)."""

    def __init__(self, n: int, total: int, start: int, seed: int) -> None:
        self.n, self.total, self.start, self.seed = n, total, start, seed

    def __iter__(self) -> Iterator[int]:
        pos = self.start
        while pos < self.total:
            epoch, offset = divmod(pos, self.n)
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            chunk = torch.randperm(self.n, generator=gen)[offset:offset + self.total - pos].tolist()
            yield from chunk
            pos += len(chunk)

    def __len__(self) -> int:
        return self.total - self.start


def stream_loader(dataset: Dataset, transform, batch_size: int, steps: int, start_step: int, seed: int,
                  workers: int, device: torch.device) -> DataLoader:
    """``steps - start_step`` batches of ``batch_size`` augmented images from a seeded stream."""
    sampler = StreamSampler(len(dataset), steps * batch_size, start_step * batch_size, seed)
    w = loader_workers(workers, len(dataset))
    return DataLoader(Transformed(dataset, transform), batch_size=batch_size, sampler=sampler, drop_last=True,
                      num_workers=w, pin_memory=device.type == "cuda", persistent_workers=False)


def epoch_loader(dataset: Dataset, transform, batch_size: int, shuffle: bool, seed: int, workers: int,
                 device: torch.device, drop_last: bool = False) -> DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(Transformed(dataset, transform), batch_size=batch_size, shuffle=shuffle, generator=gen,
                      drop_last=drop_last, num_workers=loader_workers(workers, len(dataset)),
                      pin_memory=device.type == "cuda", persistent_workers=False)


def classification_loss(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Cross-entropy (B, C) vs (B,) labels, or per-class binary cross-entropy vs (B, C) targets of
    1 / 0 / ``IGNORE``, an ignored pair a negative (``evalsuite.datasets.base.training_targets``)."""
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, training_targets(targets.float()))
    return F.cross_entropy(logits, targets)


def autocast(device: torch.device):
    """bf16 autocast on CUDA, a no-op elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def evaluate(net: nn.Module, dataset: Dataset, spec: DatasetSpec, small_input: bool, device: torch.device,
             batch_size: int = 256, workers: int = -1) -> float:
    """Score ``net`` (images -> logits) in eval mode on ``dataset`` with the spec's metric."""
    return score(spec.metric, *predict(net, dataset, spec, small_input, device, batch_size, workers))


def evaluate_all(net: nn.Module, dataset: Dataset, spec: DatasetSpec, small_input: bool, device: torch.device,
                 batch_size: int = 256, workers: int = -1) -> dict[str, float]:
    """``evaluate``'s score under the spec's metric name plus the secondary figures (``extra_scores``)."""
    logits, targets = predict(net, dataset, spec, small_input, device, batch_size, workers)
    return {spec.metric: score(spec.metric, logits, targets), **extra_scores(spec.metric, logits, targets)}


def predict(net: nn.Module, dataset: Dataset, spec: DatasetSpec, small_input: bool, device: torch.device,
            batch_size: int = 256, workers: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """``net``'s logits (N, C) in eval mode on ``dataset``, and the targets."""
    transform, _ = eval_transform(spec.native_size, small_input)
    loader = epoch_loader(dataset, transform, batch_size, False, 0, workers, device)
    was_training = net.training
    net.eval()
    logits, targets = [], []
    for images, target in loader:
        with autocast(device):
            logits.append(net(normalize_batch(images, device)).float().cpu())  # (B, C)
        targets.append(target)
    net.train(was_training)
    return torch.cat(logits), torch.cat(targets)


def cosine(step: int, total: int) -> float:
    """Cosine decay factor from 1 at step 0 to 0 at ``total`` (Loshchilov & Hutter 2017, no restarts)."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
