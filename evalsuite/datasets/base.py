"""What a dataset entry returns, and the validation split every probe selects on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split
import torch
from torch.utils.data import Dataset

from evalsuite.preprocess import is_small

#: Fraction of train held out for hyperparameter selection when a dataset has no official
#: validation split (Kornblith et al. 2019, 'Do Better ImageNet Models Transfer Better?', Sec. 3;
#: Ericsson et al. 2021, Sec. 3.1 use the same 80/20 protocol).
VAL_FRACTION = 0.2

METRICS = ("top1", "mean_per_class", "map11")

#: A multi-label target's value for an (image, class) pair that is neither positive nor negative:
#: the VOC devkit's classification ground truth 0, "difficult" (the class appears in the image
#: only as objects marked difficult). Scoring leaves such pairs out of that class's AP
#: (Everingham et al. 2010, IJCV, Sec. 4.2 and the devkit's VOCevalcls); training counts them as
#: negatives (``training_targets``).
IGNORE = -1.0


def training_targets(targets: torch.Tensor) -> torch.Tensor:
    """Multi-label targets (N, C) of 1 / 0 / ``IGNORE`` -> the 0/1 targets a classifier is fitted to.

    An ignored pair is fitted as a negative, as the VOC07 benchmarks train their per-class
    classifiers: facebookresearch/fair_self_supervision_benchmark, tools/svm/train_svm_kfold.py
    (whose labels, from extra_scripts/create_voc_data_files.py, are 1 present, 0 absent, -1
    difficult) maps only 0 to the SVM's -1 and fits -1 with the negatives; facebookresearch/vissl,
    vissl/utils/svm_utils/svm_trainer.py (``train_cls``) does the same. Both leave the pairs out
    only when scoring (``test`` there; ``evalsuite.tasks.metrics.map11`` here).
    """
    return targets.clamp(min=0)


@dataclass
class DatasetSpec:
    """A dataset's official splits and how it is scored.

    Attributes:
        name: registered name (or ``imagefolder:PATH``).
        splits: official splits, ``train`` and ``test`` always, ``val`` where one exists;
            items are ``(PIL.Image, target)`` with an int target, or when ``multilabel`` a
            float vector (C,) with 1 = positive, 0 = negative and ``IGNORE`` (-1) = neither (VOC's
            "difficult": the class is there only as objects marked difficult). Every consumer of
            multi-label targets handles ``IGNORE``: the probes, fine-tuning and kNN fit or vote
            with it as a negative (``training_targets``), ``map11`` leaves the pair out.
        classes: class names in label order.
        metric: ``top1``, ``mean_per_class`` or ``map11`` (11-point mAP, VOC07).
        native_size: side of the stored images in px, used by small-input archs.
        split_note: how the train/test split was made when it is not the official one.
        skipped_images: unreadable files left out per split (``--skip-bad-images``).
        skipped_files: per split, entries an image folder leaves out by their name: ``hidden``
            (name starting with '.') and ``not_image`` (no image extension); in the row, not the
            protocol id (the images used are the same with or without a stray README).
        label_protocol: how the targets were derived, where that changed after rows were
            written (e.g. VOC's difficult pairs, once negatives, now ``IGNORE``); when set it
            joins the feature-cache key (cached targets are the old ones) and the protocol id
            (old rows are not averaged with new ones). Empty for every other dataset, so their
            cache entries and ids stay as they were.
        val_source: where ``splits['val']`` comes from: ``official``, or how it was held out of
            train (ImageNet: its official val is the test set, so hyperparameters are chosen on a
            slice of train); the rows' ``split.val_source`` says it.
    """

    name: str
    splits: dict[str, Dataset]
    classes: list[str]
    metric: str = "top1"
    native_size: int = 224
    multilabel: bool = False
    split_note: str = "official"
    sizes: dict[str, int] = field(default_factory=dict)
    skipped_images: dict[str, int] = field(default_factory=dict)
    skipped_files: dict[str, dict[str, int]] = field(default_factory=dict)
    label_protocol: str = ""
    val_source: str = "official"

    def __post_init__(self) -> None:
        assert self.metric in METRICS, self.metric
        assert {"train", "test"} <= set(self.splits), self.splits.keys()
        self.sizes = {k: len(v) for k, v in self.splits.items()}

    def check_classification(self) -> None:
        """Refuse single-label data with fewer than two classes: every prediction would be right and
        top-1 would be 1.0 whatever the backbone. (Pre-training on one folder of images is fine: it
        reads no labels and never calls this.)"""
        if not self.multilabel and len(self.classes) < 2:
            from evalsuite.errors import EvalsuiteError

            found = f"only class {self.classes[0]!r}" if self.classes else "no class"
            raise EvalsuiteError(f"dataset {self.name!r} has {found}; a classification task needs at least two "
                                 "classes (with one, every prediction is right and top-1 is 1.0 whatever the backbone)")

    @property
    def small_images(self) -> bool:
        """Images of at most 64 px are evaluated at native size by small-input archs."""
        return is_small(self.native_size)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices of ``labels`` (N,) or multi-hot (N, C) into (train, held-out), seeded.

    Stratified by class for single-label data; a plain seeded shuffle for multi-label data.
    """
    index = np.arange(len(labels))
    stratify = labels if labels.ndim == 1 else None
    if stratify is not None and np.bincount(labels).min() < 2:
        stratify = None  # a class with one image cannot be on both sides
    train, held = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(held)


def random_holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices 0..n-1 into (train, held-out) by one seeded shuffle, not stratified: the first
    floor(fraction * n) shuffled indices are held out, the draw of ssl-transfer's ``linear.py``
    (``np.random.seed(seed); np.random.shuffle(indices)``, Ericsson et al. 2021)."""
    index = np.arange(n)
    np.random.RandomState(seed).shuffle(index)
    split = int(np.floor(fraction * n))
    return np.sort(index[split:]), np.sort(index[:split])


def per_class_split(targets: list[int], n_train: int, n_test: int | None, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split with ``n_train`` images of each class in train and ``n_test`` (or the rest) in test."""
    rng = np.random.default_rng(seed)
    targets_arr = np.asarray(targets)
    train, test = [], []
    for c in np.unique(targets_arr):
        idx = rng.permutation(np.flatnonzero(targets_arr == c))
        train.extend(idx[:n_train].tolist())
        test.extend(idx[n_train : None if n_test is None else n_train + n_test].tolist())
    return sorted(train), sorted(test)
