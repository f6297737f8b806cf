"""Frozen-backbone features of a dataset's splits, through the feature cache: the classification
data step.

The cache key is (checkpoint sha256, arch, dataset, split, transform, split size, compute
precision, and the dataset's label protocol where it has one), so running other tasks on the
same features extracts nothing the second time (``evalsuite.cache``).

Decoding is the slow part of extraction (JPEG decode on the CPU runs far below a GPU's forward
rate), and it is the same for every checkpoint. So a split whose decoded uint8 images fit in
``evalsuite.cache.MAX_DECODED_BYTES`` is decoded once into an array (``DecodedCache``), and every
later checkpoint is fed straight from that array at the model's own speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from evalsuite.cache import FeatureKey
from evalsuite.datasets import build_dataset
from evalsuite.errors import EvalsuiteError
from evalsuite.imaging import Transformed, compute_precision, forward_batches, loader_workers, prepare, source_of
from evalsuite.preprocess import IMAGENET, Preprocess
from evalsuite.progress import progress
from evalsuite.tasks.base import EvalContext, Prepared, Session

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

    feats = forward_batches(prepare(model, device), batches(), device, stats).cpu()
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
    return forward_batches(prepare(model, device), batches, device, stats).cpu(), targets


def check_finite_features(features: torch.Tensor, where: str, nonfinite_weights: int | None) -> None:
    """Features (N, D) with NaN or inf cannot be probed (the probe's eigendecomposition and every
    score would be meaningless): one sentence with how many images and which, before anything
    is cached or fitted."""
    bad = (~torch.isfinite(features)).any(1)  # (N,)
    if bool(bad.any()):
        first = bad.nonzero()[0].item()
        cause = (f"the checkpoint was loaded with {nonfinite_weights} non-finite tensor(s) (--allow-nonfinite)"
                 if nonfinite_weights else "the backbone's forward overflowed or divided by zero; "
                 "'evalsuite inspect CHECKPOINT' shows whether its weights are finite")
        raise EvalsuiteError(f"features of {where} hold NaN or inf for {int(bad.sum())} of {len(bad)} images "
                             f"(the first is image {first}): {cause}; nothing was cached or written")


def _feature_fn(session: Session, spec):
    """``split -> (features, targets)`` through the feature cache, the transform's id and the
    preprocessing record of the row (``evalsuite.preprocess``)."""
    model, info, cache = session.model, session.info, session.cache
    preprocess = Preprocess.from_cfg(session.features)
    transform, transform_id, resolution_source = preprocess.transform(spec.native_size, model, info.meta, session.quiet)
    stats = preprocess.stats(info.meta)
    settings = FeatureSettings(**session.features)
    batch_size = settings.batch_size
    memo = {}

    def features(split: str):
        if split in memo:
            return memo[split]
        dataset = spec.splits[split]
        # A ViT's feature mode changes what the same weights give, so it is part of the key (ResNets: none).
        mode = getattr(model, "feature_mode", None)
        arch_key = info.arch if mode is None else f"{info.arch}[{mode}]"
        key = FeatureKey(info.sha256, arch_key, spec.name, split, transform_id, len(dataset), source_of(dataset),
                         compute_precision(session.device), spec.label_protocol)
        got = cache.get(key)
        fresh = got is None
        if fresh:
            workers = loader_workers(settings.num_workers, len(dataset))
            images = Transformed(dataset, transform)
            desc = f"features {spec.name}/{split}"
            array = cache.decoded.get_or_build(key.images_key(), images, workers, batch_size,
                                               f"decoding {spec.name}/{split}", session.quiet)
            if array is not None:
                got = extract_array(model, array[0], array[1], session.device, batch_size, desc, session.quiet, stats)
            else:
                got = extract(model, images, session.device, batch_size, workers, desc=desc, quiet=session.quiet,
                              stats=stats)
        check_finite_features(got[0], f"{spec.name}/{split}", info.meta.get("nonfinite_tensors"))
        if fresh:  # never cache what cannot be used
            cache.put(key, *got)
        memo[split] = got
        return got

    record = {"normalize": preprocess.normalize, "mean": list(stats[0]), "std": list(stats[1]),
              "resize": preprocess.resize, "resolution_from": resolution_source}
    return features, transform_id, record


def feature_step(dataset_name: str, session: Session) -> Prepared:
    """The classification data step: a ``DATASETS`` entry, its frozen features through the cache."""
    spec = build_dataset(dataset_name, session.data_root, session.download, session.skip_bad_images)
    feature_fn, transform_id, preprocess = _feature_fn(session, spec)

    def context(seed: int) -> EvalContext:
        return EvalContext(spec=spec, seed=seed, device=session.device, feature_fn=feature_fn,
                           backbone_fn=session.backbone, work_dir=session.work_dir, quiet=session.quiet)

    mode = getattr(session.model, "feature_mode", None)  # ViTs only: in the row and the protocol id
    vit = {"feature_mode": mode} if mode else {}
    # a dataset whose targets changed meaning (VOC's difficult pairs) states how, in the row and the
    # id, so its new rows never share a cell with the old; the others' ids stay as they were
    labels = {"label_protocol": spec.label_protocol} if spec.label_protocol else {}
    # the id hashes the transform id (it names any non-ImageNet normalisation) and not the whole
    # preprocessing record, so rows made before that record existed keep their ids
    return Prepared(spec, {"transform": transform_id, "preprocess": preprocess, **vit, **labels}, context,
                    id_protocol={"transform": transform_id, **vit, **labels})
