"""Recipe settings -> a detectron2 config (yacs ``CfgNode``) for Faster R-CNN C4 or FPN.

Defaults that are not the recipe's choice come from detectron2's ``Base-RCNN-C4.yaml`` /
``Base-RCNN-FPN.yaml``. Torchvision-style backbones need ``STRIDE_IN_1X1 = False`` (the stride
sits in the 3x3 conv) and RGB input normalised with the ImageNet mean/std the backbone was
trained with (MoCo's ``*_moco.yaml`` detection configs, He et al. 2020, App. A.2).
"""

from __future__ import annotations

from evalsuite.detection import has_cpp_ops, require_detectron2
from evalsuite.errors import EvalsuiteError

EXTRA_NORM_HEAD = "EvalsuiteRes5ROIHeadsExtraNorm"
META_ARCHS = ("C4", "FPN")
NORMS = ("SyncBN", "BN", "FrozenBN", "GN", "")


def check_supported(task) -> None:
    """The ops the pure-Python detectron2 build lacks fail here, before any work, in one sentence."""
    wanted = [label for label, on in (("deformable convolution", task.deformable_conv),
                                      ("rotated boxes", task.rotated_boxes),
                                      ("the fast COCO evaluator", task.fast_coco_eval)) if on]
    if wanted and not has_cpp_ops():
        raise EvalsuiteError(f"{wanted[0]} needs detectron2's C++ ops, which this pure-Python build lacks; "
                             "set it off in the recipe or install the official detectron2 (tools/install_detectron2.py --source official)")
    if task.meta_arch not in META_ARCHS:
        raise EvalsuiteError(f"unknown detection meta_arch {task.meta_arch!r}; valid ones are: {', '.join(META_ARCHS)}")
    if task.norm not in NORMS:
        raise EvalsuiteError(f"unknown detection norm {task.norm!r}; valid ones are: {', '.join(repr(n) for n in NORMS)}")


def _register_extra_norm_head() -> None:
    """C4 box head with a norm after res5 ('Res5ROIHeadsExtraNorm' of MoCo's detection code,
    He et al. 2020, App. A.2: the extra BN lets a BN-trained res5 be fine-tuned with SyncBN)."""
    from detectron2.layers import get_norm
    from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY, Res5ROIHeads

    if EXTRA_NORM_HEAD in ROI_HEADS_REGISTRY:
        return

    class ExtraNorm(Res5ROIHeads):
        @classmethod
        def _build_res5_block(cls, cfg):
            seq, out_channels = super()._build_res5_block(cfg)
            seq.add_module("norm", get_norm(cfg.MODEL.RESNETS.NORM, out_channels))
            return seq, out_channels

    ExtraNorm.__name__ = EXTRA_NORM_HEAD
    ROI_HEADS_REGISTRY.register(ExtraNorm)


def effective_norm(norm: str, device: str) -> str:
    """SyncBN needs a process group: on one process it is plain BN (the same statistics); across
    CPU processes (gloo) detectron2's all-reduce version, since torch's SyncBatchNorm is GPU-only."""
    from evalsuite.launch import world

    if norm != "SyncBN":
        return norm
    if world()[1] == 1:
        return "BN"
    return "SyncBN" if device.startswith("cuda") else "naiveSyncBN"


def build_cfg(task, depth: int, num_classes: int, device: str, seed: int, out_dir: str):
    require_detectron2()
    from detectron2 import model_zoo
    from detectron2.config import get_cfg

    _register_extra_norm_head()
    if task.meta_arch == "C4" and depth < 50:
        raise EvalsuiteError(f"the C4 box head is a ResNet-50-style res5 stage; a ResNet-{depth} backbone needs meta_arch='FPN'")
    cfg = get_cfg()
    cfg.merge_from_file(model_zoo.get_config_file(f"Base-RCNN-{task.meta_arch}.yaml"))
    norm = effective_norm(task.norm, device)
    m = cfg.MODEL
    m.DEVICE, m.WEIGHTS, m.MASK_ON = device, "", False
    m.RESNETS.DEPTH, m.RESNETS.NORM, m.RESNETS.STRIDE_IN_1X1 = depth, norm, False
    m.RESNETS.RES2_OUT_CHANNELS = 64 if depth < 50 else 256
    m.BACKBONE.FREEZE_AT = task.freeze_at
    m.FPN.NORM = effective_norm(task.fpn_norm, device)
    m.ROI_HEADS.NUM_CLASSES = num_classes
    m.ROI_HEADS.BATCH_SIZE_PER_IMAGE = task.roi_batch_size_per_image
    if task.meta_arch == "C4" and task.res5_extra_norm:
        m.ROI_HEADS.NAME = EXTRA_NORM_HEAD
    m.PIXEL_MEAN, m.PIXEL_STD = list(task.pixel_mean), list(task.pixel_std)
    cfg.INPUT.FORMAT = "RGB"
    cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN = tuple(task.min_size_train), task.max_size_train
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = task.min_size_test, task.max_size_test
    s = cfg.SOLVER
    s.IMS_PER_BATCH, s.BASE_LR, s.MAX_ITER, s.STEPS = task.batch_size, task.base_lr, task.max_iter, tuple(task.steps)
    s.WARMUP_ITERS, s.WARMUP_FACTOR, s.WEIGHT_DECAY, s.MOMENTUM = task.warmup_iters, task.warmup_factor, task.weight_decay, 0.9
    s.CHECKPOINT_PERIOD = 10**9
    cfg.TEST.DETECTIONS_PER_IMAGE = 100
    cfg.SEED, cfg.OUTPUT_DIR = seed, out_dir
    cfg.freeze()
    return cfg
