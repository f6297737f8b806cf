"""What a task gets (``EvalContext``) and gives back (``TaskOutput``).

Feature tasks (knn, linear, lowshot) call ``ctx.features(split)``; tasks that train the network
(finetune, linear_sgd, detection) use ``ctx.backbone()`` and ``ctx.spec`` directly. A task's
``data_step`` (a ``DataStep``) says how the runner makes a dataset ready for it; classification
tasks leave it out and get the feature pipeline (``evalsuite.features.feature_step``).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from evalsuite.datasets.base import VAL_FRACTION, DatasetSpec, random_holdout, stratified_holdout

#: How a task runs under ``--launcher`` (its ``processes`` class attribute). ``"all"``: every process
#: runs it and they work as one (detection's DDP, linear_multi's data-parallel heads). ``"first"``:
#: every process extracts its part of each split's features into the cache
#: (``evalsuite.features``), then the first process runs the task on all of them, as DINO's
#: ``eval_knn.py`` scores on rank 0 after gathering. A task without it is refused (finetune).
PROCESSES = ("all", "first")

#: How a validation split is drawn from train when the dataset has no official one.
VAL_DRAWS = ("stratified", "random")


@dataclass
class TaskOutput:
    """``metric``/``value`` is the headline; ``metrics`` every reported score; ``chosen`` the
    hyperparameters picked on validation data."""

    metric: str
    value: float
    metrics: dict[str, float] = field(default_factory=dict)
    chosen: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class Split:
    features: torch.Tensor  # (N, D)
    targets: torch.Tensor  # (N,) int64, or (N, C) of 1 / 0 / IGNORE (evalsuite.datasets.base)

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(kw_only=True)
class TaskContext:
    """What one task gets for one (checkpoint, dataset, seed): the dataset, fresh backbones, a work
    folder and its own ``timings`` (the runner builds one per task, so no row reports another
    task's time)."""

    spec: Any  # what the task's data step built: a DatasetSpec, a DetectionSpec
    seed: int
    device: torch.device
    backbone_fn: Callable[[], nn.Module]
    work_dir: str = "."
    quiet: bool = False  # no progress lines (long tasks print them on stderr otherwise)
    timings: dict = field(default_factory=dict)

    def backbone(self) -> nn.Module:
        """A fresh copy of the loaded backbone (tasks that train must not share weights)."""
        return self.backbone_fn()


@dataclass(kw_only=True)
class EvalContext(TaskContext):
    """The classification context: a ``DatasetSpec`` and its frozen features per split."""

    spec: DatasetSpec
    feature_fn: Callable[[str], tuple[torch.Tensor, torch.Tensor]]
    images: Any = None  # the split's transform and cache key (evalsuite.tokens.ImageSource), for token probes
    feature_mode: str | None = None  # a ViT's feature mode (evalsuite.archs.vit); None: one way to pool
    _features: dict = field(default_factory=dict)

    def features(self, split: str) -> Split:
        if split not in self._features:
            start = time.perf_counter()
            self._features[split] = Split(*self.feature_fn(split))
            self.timings[f"features_{split}_s"] = round(time.perf_counter() - start, 3)
        return self._features[split]

    def protocol_splits(self, draw: str = "stratified") -> tuple[Split, Split, Split, dict]:
        """(train, val, test, info): val is the official split where one exists, otherwise a
        seeded ``VAL_FRACTION`` of train, stratified by class or (``draw='random'``) a plain
        shuffle; train here excludes that val part."""
        full, test = self.features("train"), self.features("test")
        if "val" in self.spec.splits:
            val = self.features("val")
            info = {"val_source": self.spec.val_source, "split_seed": None}
            train = full
        else:
            if draw == "random":
                tr_idx, va_idx = random_holdout(len(full), VAL_FRACTION, self.seed)
            else:
                tr_idx, va_idx = stratified_holdout(full.targets.numpy(), VAL_FRACTION, self.seed)
            train, val = take(full, tr_idx), take(full, va_idx)
            info = {"val_source": f"{draw} {VAL_FRACTION:.0%} of train", "split_seed": self.seed}
        info.update(sizes={"train": len(train), "val": len(val), "test": len(test)}, note=self.spec.split_note)
        return train, val, test, info


def take(split: Split, index: np.ndarray) -> Split:
    """The rows ``index`` of a split."""
    idx = torch.as_tensor(index)
    return Split(split.features[idx], split.targets[idx])


def concat(a: Split, b: Split) -> Split:
    return Split(torch.cat([a.features, b.features]), torch.cat([a.targets, b.targets]))


def settings_of(task) -> dict:
    """Every field of a task's frozen dataclass, as JSON-friendly values (for the result row).

    A field added later with ``metadata={"omit_default": True}`` is left out while at its
    default, so rows (and protocol ids) of runs it does not affect stay as they were.
    """
    out = {}
    for f in dataclasses.fields(task):
        value = getattr(task, f.name)
        if f.metadata.get("omit_default") and value == f.default:
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass
class Session:
    """What every dataset of one ``evaluate`` call shares; a data step reads what it needs."""

    model: nn.Module  # the loaded backbone, never trained in place
    info: Any  # its LoadedCheckpoint (sha256 and arch key the feature cache)
    device: torch.device
    data_root: str
    download: bool
    work_dir: str
    quiet: bool
    cache: Any  # the FeatureCache (evalsuite.cache), with its DecodedCache beside it
    features: dict  # the suite's ``features`` settings (``evalsuite.features.FeatureSettings``)
    skip_bad_images: bool = False  # an imagefolder leaves unreadable files out (``--skip-bad-images``)

    def backbone(self) -> nn.Module:
        return copy.deepcopy(self.model)


@dataclass
class Prepared:
    """One dataset made ready for a suite's tasks by a data step.

    ``protocol``: what besides the task's settings defines the protocol (e.g. the feature
    transform); it is hashed into the protocol id and lands in the row. ``context(seed)``: a fresh
    context for one task at that seed. ``id_protocol``: hashed instead of ``protocol`` where an
    older id must stay stable although the row now states the protocol more truthfully.
    """

    spec: Any
    protocol: dict
    context: Callable[[int], TaskContext]
    id_protocol: dict | None = None


#: How the runner makes one named dataset ready for a task: ``(dataset_name, session) -> Prepared``.
DataStep = Callable[[str, Session], Prepared]
