"""Frozen-backbone features of a dataset's splits, through the feature cache: the classification
data step.

The cache key is (checkpoint sha256, arch, dataset, split, transform, split size, compute
precision, and the dataset's label protocol where it has one), so running other tasks on the
same features extracts nothing the second time (``evalsuite.cache``).

Decoding is the slow part of extraction (JPEG decode on the CPU runs far below a GPU's forward
rate), and it is the same for every checkpoint. So a split whose decoded uint8 images fit in
``evalsuite.cache.MAX_DECODED_BYTES`` is decoded once into an array (``DecodedCache``), and every
later checkpoint is fed straight from that array at the model's own speed. The forward passes
themselves are ``evalsuite.extraction``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from evalsuite.cache import SHARD_IMAGES, STORAGE, FeatureKey, ShardWriter
from evalsuite.datasets import build_dataset
from evalsuite.errors import EvalsuiteError, FeaturesRefused
from evalsuite.extraction import check_finite_features, extract_into, uint8_batches
from evalsuite.imaging import Transformed, compute_precision, loader_workers, source_of
from evalsuite.launch import all_true, barrier, rank_span, world
from evalsuite.preprocess import Preprocess
from evalsuite.rules import AT_LEAST_1, WORKERS, ruled
from evalsuite.tasks.base import EvalContext, Prepared, Session
from evalsuite.tokens import ImageSource


@dataclass(frozen=True)
class FeatureSettings:
    """A suite's ``features`` dict (``evalsuite.schema`` validates it against these fields).

    Args:
        batch_size: images per forward pass.
        num_workers: data-loading processes; -1: none for small splits, else one per core.
        mode: a ViT's feature mode (``evalsuite.archs.vit.FEATURE_MODES``); None: its default.
        normalize, mean, std, resize: the preprocessing (``evalsuite.preprocess``, which validates
            their values).
        storage: the dtype cached features are kept in (``evalsuite.cache.STORAGE``); float16
            halves the cache, the tasks see the rounded values, and the row says so.
        shard_images: images per cache shard, what a killed extraction may have to redo.
    """

    batch_size: int = ruled(256, AT_LEAST_1)
    num_workers: int = ruled(-1, WORKERS)
    mode: str | None = None
    normalize: str | bool = "imagenet"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: str | int = "auto"
    storage: str = "float32"
    shard_images: int = ruled(SHARD_IMAGES, AT_LEAST_1)

    def __post_init__(self) -> None:
        if self.storage not in STORAGE:
            raise EvalsuiteError(f"features.storage={self.storage!r} is not valid; use one of: {', '.join(STORAGE)}")


def _feature_fn(session: Session, spec):
    """``split -> (features, targets)`` through the feature cache, the transform's id and the
    preprocessing record of the row (``evalsuite.preprocess``)."""
    model, info, cache = session.model, session.info, session.cache
    preprocess = Preprocess.from_cfg(session.features)
    transform, transform_id, resolution_source = preprocess.transform(spec.native_size, model, info.meta, session.quiet)
    stats = preprocess.stats(info.meta)
    settings = FeatureSettings(**session.features)
    cache.shard_images = settings.shard_images
    memo = {}
    run = _RunWrites()

    def features(split: str, load: bool = True):
        """The split's (features, targets); ``load=False``: only make sure the cache holds them, every
        process together under ``--launcher`` (``feature_step``)."""
        if not load:
            key = _key(session, spec, split, transform_id, settings)
            return _extract_across(session, key, Transformed(spec.splits[split], transform), stats, settings)
        if split not in memo:
            memo[split] = _split_features(session, spec, split, transform, transform_id, stats, settings, run)
        return memo[split]

    record = {"normalize": preprocess.normalize, "mean": list(stats[0]), "std": list(stats[1]),
              "resize": preprocess.resize, "resolution_from": resolution_source}
    images = ImageSource(transform, transform_id, stats, lambda split: _key(session, spec, split, transform_id, settings),
                         cache.top, settings.batch_size, settings.num_workers, session.quiet)  # for the token probes
    return features, transform_id, record, images


@dataclass
class _RunWrites:
    """What this run wrote for one dataset: feature entries (removed if a later split's features
    are refused) and the splits whose decoded images it made (they stay: not the backbone's)."""

    features: list = field(default_factory=list)
    decoded: list[str] = field(default_factory=list)

    def refuse(self, exc: FeaturesRefused, dataset: str) -> FeaturesRefused:
        for writer in self.features:
            writer.discard()
        return FeaturesRefused(f"{exc}; {left_behind(dataset, self.decoded)}")


def left_behind(dataset: str, decoded: list[str]) -> str:
    """What a refusal of the backbone's features leaves, said exactly: no row and no features;
    decoded images written in this run stay, since they are the dataset's and not the backbone's."""
    if not decoded:
        return f"nothing was cached or written for {dataset}"
    return (f"no row was written and no features were cached for {dataset}; the decoded images of "
            f"{', '.join(decoded)} made in this run stay in the decoded-image cache (they do not depend on the "
            f"backbone, and the next evaluation of {dataset} reuses them)")


def _key(session: Session, spec, split: str, transform_id: str, settings: FeatureSettings) -> FeatureKey:
    """The cache key of one split's features."""
    model, info, dataset = session.model, session.info, spec.splits[split]
    # A ViT's feature mode changes what the same weights give, so it is part of the key (ResNets: none).
    mode = getattr(model, "feature_mode", None)
    arch_key = info.arch if mode is None else f"{info.arch}[{mode}]"
    return FeatureKey(info.sha256, arch_key, spec.name, split, transform_id, len(dataset), source_of(dataset),
                      compute_precision(session.device), spec.label_protocol, settings.storage)


def _finite_check(session: Session, where: str, settings: FeatureSettings):
    """``check(features, first_image)`` for ``extract_into``: NaN/inf (and float16 range) refused."""
    nonfinite = session.info.meta.get("nonfinite_tensors")
    return lambda out, first: check_finite_features(out, where, nonfinite, first, settings.storage)


def _split_features(session: Session, spec, split: str, transform, transform_id: str, stats: tuple,
                    settings: FeatureSettings, run: _RunWrites) -> tuple[torch.Tensor, torch.Tensor]:
    """One split's features: from the cache, else extracted into it from where a killed run stopped."""
    model, cache, quiet = session.model, session.cache, session.quiet
    dataset = spec.splits[split]
    key = _key(session, spec, split, transform_id, settings)
    where = f"{spec.name}/{split}"
    got = cache.get(key)
    if got is None:
        writer = cache.writer(key)
        workers = loader_workers(settings.num_workers, len(dataset))
        images = Transformed(dataset, transform)
        had_images = cache.decoded.paths(key.images_key())[0].is_file()
        array = cache.decoded.get_or_build(key.images_key(), images, workers, settings.batch_size,
                                           f"decoding {where}", quiet)
        if array is not None and not had_images:
            run.decoded.append(where)
        source = array if array is not None else (images, None)
        batches = uint8_batches(*source, writer.done, settings.batch_size, workers, session.device,
                                f"features {where}", quiet)
        try:
            extract_into(writer, model, batches, session.device, stats, _finite_check(session, where, settings))
        except FeaturesRefused as exc:  # the backbone's fault, found after decoding began
            writer.discard()
            raise run.refuse(exc, spec.name) from None
        except EvalsuiteError:
            writer.discard()  # never cache what cannot be used
            raise
        run.features.append(writer)
        got = writer.load()
    return got


def _complete(cache, key: FeatureKey) -> bool:
    return ShardWriter(cache.folder(key), key, create=False).done == key.size


def _extract_across(session: Session, key: FeatureKey, images: Dataset, stats: tuple,
                    settings: FeatureSettings) -> None:
    """One split's features under ``--launcher``, called by every process: each extracts its
    contiguous part (``rank_span``) into the shared cache entry, shard by shard, resuming like one
    process does, and returns once the entry is whole. DINO's ``eval_knn.py`` (facebookresearch/dino)
    also extracts a part per process and gathers before scoring; here the gathering is the cache,
    so a preempted job keeps what every process finished. Images are streamed, not decoded whole."""
    cache, where = session.cache, f"{key.dataset}/{key.split}"
    if all_true(_complete(cache, key)):
        return
    rank, size = world()
    if rank == 0:  # one process makes (or resets) the entry's folder before any shard lands in it
        cache.writer(key)
    barrier()
    start, stop = rank_span(key.size, rank, size)
    writer = ShardWriter(cache.folder(key), key, settings.shard_images, create=False, span=(start, stop))
    batches = uint8_batches(images, None, writer.done, settings.batch_size, 0, session.device,
                            f"features {where} [{start}, {stop})", session.quiet, stop=stop)
    failed = None
    try:
        extract_into(writer, session.model, batches, session.device, stats, _finite_check(session, where, settings))
    except EvalsuiteError as exc:
        failed = exc
    if not all_true(failed is None):  # every process stops, none waits for the others forever
        if rank == 0:
            writer.discard()
        raise failed or EvalsuiteError(f"another process failed to extract {where}; nothing was cached")
    barrier()
    if not all_true(_complete(cache, key)):
        raise EvalsuiteError(f"the feature cache {str(cache.top)!r} does not hold every process's part of {where}: "
                             "under --launcher give --cache-dir a folder every process (every node) sees")


def feature_step(dataset_name: str, session: Session) -> Prepared:
    """The classification data step: a ``DATASETS`` entry, its frozen features through the cache."""
    spec = build_dataset(dataset_name, session.data_root, session.download, session.skip_bad_images)
    spec.check_classification()
    feature_fn, transform_id, preprocess, images = _feature_fn(session, spec)
    mode = getattr(session.model, "feature_mode", None)  # ViTs only: in the row and the protocol id

    if world()[1] > 1:  # every process takes its part now: the first alone asks for features later
        for split in spec.splits:
            feature_fn(split, load=False)

    def context(seed: int) -> EvalContext:
        return EvalContext(spec=spec, seed=seed, device=session.device, feature_fn=feature_fn, images=images,
                           feature_mode=mode,
                           backbone_fn=session.backbone, work_dir=session.work_dir, quiet=session.quiet)

    vit = {"feature_mode": mode} if mode else {}
    # a dataset whose targets changed meaning (VOC's difficult pairs) states how, in the row and the
    # id, so its new rows never share a cell with the old; the others' ids stay as they were
    labels = {"label_protocol": spec.label_protocol} if spec.label_protocol else {}
    # the id hashes the transform id (it names any non-ImageNet normalisation) and not the whole
    # preprocessing record, so rows made before that record existed keep their ids
    # features stored in float16 are rounded: a protocol of its own; float32 rows keep their ids
    stored = FeatureSettings(**session.features).storage
    storage = {"feature_storage": stored} if stored != "float32" else {}
    return Prepared(spec, {"transform": transform_id, "preprocess": preprocess, **vit, **labels, **storage}, context,
                    id_protocol={"transform": transform_id, **vit, **labels, **storage})
