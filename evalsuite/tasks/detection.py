"""``detection``: fine-tune the backbone inside a detectron2 Faster R-CNN, score box AP.

The MoCo/SimSiam/BYOL detection transfer protocol (He et al. 2020, 'Momentum Contrast for
Unsupervised Visual Representation Learning', Sec. 4.2 and App. A.2; Chen & He 2021, Sec. 4.6;
Grill et al. 2020, App. D.5): Faster R-CNN R50-C4 with an extra norm after res5, SyncBN in the
backbone and heads, every stage trained, VOC07+12 trainval -> VOC07 test, 24k iterations at
batch 16, lr 0.02 dropped 10x at 18k and 22k, train shortest side in [480, 800] step 32, test
800, 5 trials. The defaults below are that recipe; ``tasks/detection_*.py`` hold the variants.
Random init and supervised checkpoints go through exactly the same recipe.

Reports AP (IoU 0.50:0.95), AP50 and AP75 as fractions; the headline is AP.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import ClassVar

from evalsuite.detection.data import build_detection_dataset, build_loaders
from evalsuite.detection.spec import DetectionSpec
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, NON_DECREASING, POSITIVE, UNIT, WORKERS, ruled
from evalsuite.tasks.base import DataStep, Prepared, Session, TaskContext, TaskOutput

#: He et al. 2020, App. A.2 (the VOC recipe): multi-scale training sizes.
VOC_MIN_SIZES = tuple(range(480, 801, 32))
#: torchvision's ImageNet RGB mean and std in 0-255 units (the backbones' training normalisation).
TORCHVISION_MEAN = (123.675, 116.28, 103.53)
TORCHVISION_STD = (58.395, 57.12, 57.375)
#: What detection protocol ids have always hashed as their transform: the classification eval
#: transform's name, from when detection ran through the feature pipeline's step. It is hashed
#: still, so that every detection protocol id, and so every earlier row's leaderboard cell, stays
#: the same; the row itself states the transform detection applies (its resize settings are in
#: the row's settings), never the classification one it did not.
LEGACY_ID_TRANSFORM = "resize256-crop224"
TRANSFORM = "detection: shortest side to min_size_train/min_size_test, capped by max_size_*; no crop"


@dataclass(kw_only=True)
class DetectionContext(TaskContext):
    """The detection context: a ``DetectionSpec`` (images and boxes), no features."""

    spec: DetectionSpec


def detection_step(dataset_name: str, session: Session) -> Prepared:
    """The detection data step: a detection dataset (``voc:PATH``, ``coco:...``, ``voc0712``, ...)."""
    spec = build_detection_dataset(dataset_name, session.data_root, session.download)

    def context(seed: int) -> DetectionContext:
        return DetectionContext(spec=spec, seed=seed, device=session.device, backbone_fn=session.backbone,
                                work_dir=session.work_dir, quiet=session.quiet)

    return Prepared(spec, {"transform": TRANSFORM}, context, id_protocol={"transform": LEGACY_ID_TRANSFORM})


@TASKS.register_module("detection")
@dataclass(frozen=True)
class Detection:
    """Args:
        meta_arch: 'C4' (res5 in the box head) or 'FPN' (Lin et al. 2017).
        depth: the ResNet depth the recipe is for (18, 50, ...); 0 accepts any backbone.
        res5_extra_norm: C4 only, a norm after res5 (MoCo App. A.2).
        norm, fpn_norm: 'SyncBN' (BN on one process; torch's SyncBatchNorm across GPUs, detectron2's
            NaiveSyncBatchNorm across CPU processes), 'BN', 'FrozenBN', 'GN' or '' (none).
        freeze_at: stages kept frozen (0: all trained, MoCo App. A.2).
        max_iter, batch_size, base_lr, steps, warmup_iters, warmup_factor, weight_decay: SGD
            schedule (MoCo VOC: 24000, 16, 0.02, (18000, 22000), 100, 1e-3, 1e-4).
        min_size_train, max_size_train, min_size_test, max_size_test: shortest/longest side in px.
        pixel_mean, pixel_std: RGB normalisation in 0-255 units.
        roi_batch_size_per_image: sampled RoIs per image (detectron2 default 512).
        precise_bn_iters: iterations to recompute BN statistics after training (0: off).
        amp: mixed precision on CUDA.
        num_workers: data-loading processes.
        deformable_conv, rotated_boxes, fast_coco_eval: need detectron2's C++ ops; an error on
            the pure-Python build.
    """

    #: Where its columns stand in report tables (``evalsuite.report.tables``): frozen-feature probes,
    #: then low-shot, fine-tuning and detection.
    REPORT_ORDER: ClassVar[int] = 5

    data_step: ClassVar[DataStep] = staticmethod(detection_step)  # detection datasets, no features
    processes: ClassVar[str] = "all"  # trains across the processes of --launcher (DDP, SyncBN)

    meta_arch: str = "C4"
    depth: int = ruled(0, AT_LEAST_0)
    res5_extra_norm: bool = True
    norm: str = "SyncBN"
    fpn_norm: str = ""
    freeze_at: int = ruled(0, AT_LEAST_0)
    max_iter: int = ruled(24000, AT_LEAST_1)
    batch_size: int = ruled(16, AT_LEAST_1)
    base_lr: float = ruled(0.02, POSITIVE)
    steps: tuple = ruled((18000, 22000), AT_LEAST_1, NON_DECREASING)
    warmup_iters: int = ruled(100, AT_LEAST_0)
    warmup_factor: float = ruled(0.001, UNIT)
    weight_decay: float = ruled(1e-4, AT_LEAST_0)
    min_size_train: tuple = ruled(VOC_MIN_SIZES, AT_LEAST_1)
    max_size_train: int = ruled(1333, AT_LEAST_1)
    min_size_test: int = ruled(800, AT_LEAST_1)
    max_size_test: int = ruled(1333, AT_LEAST_1)
    pixel_mean: tuple = TORCHVISION_MEAN
    pixel_std: tuple = ruled(TORCHVISION_STD, POSITIVE)
    roi_batch_size_per_image: int = ruled(512, AT_LEAST_1)
    precise_bn_iters: int = ruled(200, AT_LEAST_0)
    amp: bool = True
    num_workers: int = ruled(4, WORKERS)
    deformable_conv: bool = False
    rotated_boxes: bool = False
    fast_coco_eval: bool = False

    #: A 3-iteration R18-FPN on ~100 px images, for tests/test_contracts.py; not a protocol.
    SMOKE: ClassVar[dict] = dict(meta_arch="FPN", res5_extra_norm=False, max_iter=3, batch_size=2, min_size_train=(96,),
                                 max_size_train=128, min_size_test=96, max_size_test=128, precise_bn_iters=1,
                                 num_workers=0, roi_batch_size_per_image=32)

    def __post_init__(self) -> None:
        if self.max_iter < 1 or self.batch_size < 1:
            raise ValueError(f"max_iter ({self.max_iter}) and batch_size ({self.batch_size}) must be at least 1")

    def run(self, ctx: DetectionContext) -> TaskOutput:
        from detectron2.modeling import build_model

        from evalsuite.detection.config import build_cfg, check_supported
        from evalsuite.detection.convert import load_trunk, resnet_depth
        from evalsuite.detection.evaluate import box_metrics, build_evaluator, release
        from evalsuite.detection.train import detection_dir, run_inference, train_model
        from evalsuite.launch import world

        check_supported(self)
        if self.batch_size % world()[1]:
            raise EvalsuiteError(f"detection.batch_size {self.batch_size} does not split over {world()[1]} processes; "
                                 f"give a multiple of {world()[1]}")
        spec = ctx.spec
        backbone = ctx.backbone()
        depth = resnet_depth(backbone)
        if self.depth and depth != self.depth:
            raise EvalsuiteError(f"this detection recipe is for ResNet-{self.depth} but the backbone is ResNet-{depth}; "
                                 f"use the R{depth} recipe or set detection.depth=0")
        out_dir = detection_dir(ctx.work_dir, f"{spec.name.replace('/', '_').replace(':', '_')}-seed{ctx.seed}")
        cfg = build_cfg(self, depth, len(spec.classes), str(ctx.device), ctx.seed, str(out_dir))
        _quiet_detectron2()
        model = build_model(cfg)
        loaded = load_trunk(model, backbone, self.meta_arch)
        del backbone
        train_loader, test_loader = build_loaders(cfg, spec, ctx.seed, self.num_workers)
        timing = train_model(model, cfg, train_loader, self.amp, self.precise_bn_iters, quiet=ctx.quiet)
        evaluator, name = build_evaluator(spec, out_dir, self.fast_coco_eval)
        try:
            results, infer_s = run_inference(model, test_loader, evaluator)  # gathered on the first process
        finally:
            release(name)
        if world()[0] != 0:
            return TaskOutput(metric="AP", value=float("nan"))  # the first process writes the row
        metrics = box_metrics(copy.deepcopy(results))
        ctx.timings.update(train_s=timing.pop("train_s"), inference_s=infer_s)
        return TaskOutput(
            metric="AP", value=metrics["AP"], metrics=metrics,
            extra={"model": f"R{depth}-{self.meta_arch}", "norm_used": cfg.MODEL.RESNETS.NORM, "loaded": loaded,
                   "evaluator": spec.evaluator, "voc_year": spec.voc_year if spec.evaluator == "voc" else None,
                   "classes": list(spec.classes), "split": {"note": spec.split_note, "sizes": spec.sizes,
                                                            "seeded_ids": spec.split_files},
                   "dropped_boxes": spec.dropped, **timing},
        )


def _quiet_detectron2() -> None:
    """detectron2 logs every model and dataset at INFO; keep its warnings only."""
    logging.getLogger("detectron2").setLevel(logging.WARNING)
    logging.getLogger("fvcore").setLevel(logging.WARNING)
