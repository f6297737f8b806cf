"""``segmentation``: the dense linear probe, a BatchNorm and a 1x1 convolution on frozen patch tokens.

DINOv2's linear semantic segmentation evaluation (Oquab et al. 2024, 'DINOv2: Learning Robust
Visual Features without Supervision', Sec. 7.4, "linear"; facebookresearch/dinov2
``dinov2/eval/segmentation/models/decode_heads/linear_head.py`` ``BNHead`` and the released
``dinov2_vit*14_{ade20k,voc2012}_linear_config.py``, copied in Jiawei-Yang/Denoising-ViT
``evaluation/configs/vitb_voc2012_linear_config.py``): the backbone is frozen; a BatchNorm (with
affine parameters, trained) and a 1x1 convolution turn the last layer's patch tokens (a ViT) or
last feature map (a ResNet) into class logits, upsampled bilinearly to the crop; cross-entropy with
the ignore label 255, summed and divided by all pixels (mmsegmentation 0.x's default). AdamW lr 1e-3,
weight decay 1e-4, betas (0.9, 0.999); 40,000 iterations at batch 16 (2 x 8 GPUs), linear warm-up
over 1,500 iterations from 1e-6 x lr, then a linear ("poly", power 1) decay to 0; 512 crops
(``evalsuite.segmentation.transforms``); test images scaled into (2048, 512) and predicted by a
sliding 512 window with stride 341, window logits averaged where they overlap, then resized to the
mask. Scored by mIoU (``evalsuite.segmentation.miou``). A ViT window whose side is not a multiple
of the patch is zero-padded at its bottom and right (DINOv2 pads both sides equally) and its logits
cropped back. At the end every backbone tensor is compared bit for bit with its value before.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from evalsuite.imaging import compute_precision, loader_workers, normalize_batch
from evalsuite.preprocess import Preprocess
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, NON_DECREASING, POSITIVE, UNIT, WORKERS, ruled
from evalsuite.segmentation.datasets import SegmentationSpec, build_segmentation_dataset
from evalsuite.segmentation.miou import confusion, scores
from evalsuite.segmentation.transforms import test_image, train_pair
from evalsuite.tasks.base import Prepared, Session, TaskContext, TaskOutput
from evalsuite.tasks.linear_sgd import changed_keys, snapshot
from evalsuite.tokens import feature_map, is_vit

TRANSFORM = ("segmentation: train resize into scale x ratio_range, crop, flip; "
             "test resize into scale, sliding window")


@dataclass(kw_only=True)
class SegmentationContext(TaskContext):
    spec: SegmentationSpec
    stats: tuple  # (mean, std) normalisation of the suite's ``features`` settings


def segmentation_step(dataset_name: str, session: Session) -> Prepared:
    """The segmentation data step: a ``SEG_DATASETS`` entry, images and masks, no cached features."""
    spec = build_segmentation_dataset(dataset_name, session.data_root, session.download)
    preprocess = Preprocess.from_cfg(session.features)
    stats = preprocess.stats(session.info.meta)

    def context(seed: int) -> SegmentationContext:
        return SegmentationContext(spec=spec, seed=seed, device=session.device, backbone_fn=session.backbone,
                                   work_dir=session.work_dir, quiet=session.quiet, stats=stats)

    return Prepared(spec, {"transform": TRANSFORM + preprocess.norm_id(session.info.meta),
                           "label_protocol": spec.label_note}, context)


class TrainStream(Dataset):
    """Draw d of the seeded stream: the d-th image of a fresh permutation per pass, augmented by a
    generator seeded with (seed, d), so the stream is the same with any number of workers."""

    def __init__(self, data: Dataset, total: int, task: "Segmentation", seed: int) -> None:
        self.data, self.total, self.task, self.seed, self.perms = data, total, task, seed, {}

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, d: int):
        epoch, offset = divmod(d, len(self.data))
        if epoch not in self.perms:
            self.perms[epoch] = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(
                self.seed * 1_000_003 + epoch)).tolist()
        image, mask = self.data[self.perms[epoch][offset]]
        t = self.task
        return train_pair(image, mask, t.scale, t.ratio_range, t.crop_size, t.cat_max_ratio, t.flip,
                          random.Random(self.seed * 1_000_003 + d))


class TestImages(Dataset):
    def __init__(self, data: Dataset, scale: tuple[int, int]) -> None:
        self.data, self.scale = data, scale

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        image, mask = self.data[i]
        return test_image(image, self.scale), torch.from_numpy(mask)


@TASKS.register_module("segmentation")
@dataclass(frozen=True)
class Segmentation:
    """Args (DINOv2's linear configs, module docstring):
        crop_size, stride: training crop and sliding-window side and step (512, 341).
        scale, ratio_range: images are scaled into ``scale`` (long, short) x a ratio from
            ``ratio_range`` for training ((2048, 512), (0.5, 2.0)), into ``scale`` for testing.
        cat_max_ratio, flip: crop redraws while one class covers this share (0.75); flip p = 0.5.
        iters, batch_size: 40,000 iterations of 16 crops.
        lr, weight_decay, warmup_iters, warmup_ratio: AdamW 1e-3, 1e-4; linear warm-up over 1,500
            iterations from 1e-6 x lr, then linear decay to 0.
        num_workers: data-loading processes (-1: automatic).
    """

    data_step: ClassVar = staticmethod(segmentation_step)

    REPORT_ORDER: ClassVar[float] = 4.5  # the dense probe, after fine-tuning, before detection

    crop_size: int = ruled(512, AT_LEAST_1)
    stride: int = ruled(341, AT_LEAST_1)
    scale: tuple[int, int] = ruled((2048, 512), AT_LEAST_1)
    ratio_range: tuple[float, float] = ruled((0.5, 2.0), POSITIVE, NON_DECREASING)
    cat_max_ratio: float = ruled(0.75, UNIT)
    flip: bool = True
    iters: int = ruled(40000, AT_LEAST_1)
    batch_size: int = ruled(16, AT_LEAST_1)
    lr: float = ruled(1e-3, POSITIVE)
    weight_decay: float = ruled(1e-4, AT_LEAST_0)
    warmup_iters: int = ruled(1500, AT_LEAST_0)
    warmup_ratio: float = ruled(1e-6, UNIT)
    num_workers: int = ruled(-1, WORKERS)

    #: The smallest settings that run every code path, for tests/test_contracts.py; not a protocol.
    SMOKE: ClassVar[dict] = dict(crop_size=32, stride=21, scale=(64, 32), iters=2, batch_size=2, warmup_iters=1,
                                 num_workers=0)

    def __post_init__(self) -> None:
        if self.stride > self.crop_size:
            raise ValueError(f"stride={self.stride} leaves gaps between {self.crop_size}-px windows; give at most "
                             f"crop_size")

    def lr_at(self, it: int) -> float:
        """mmcv's poly schedule (power 1, min 0) with linear warm-up."""
        regular = self.lr * (1 - it / self.iters)
        if it >= self.warmup_iters:
            return regular
        return regular * (1 - (1 - it / self.warmup_iters) * (1 - self.warmup_ratio))

    def run(self, ctx: SegmentationContext) -> TaskOutput:
        spec, device = ctx.spec, ctx.device
        backbone = ctx.backbone().to(device).eval().requires_grad_(False)
        before = snapshot(backbone)
        dim = self._features(backbone, torch.zeros(1, 3, self.crop_size, self.crop_size, dtype=torch.uint8), ctx)[0].shape[1]
        torch.manual_seed(ctx.seed)
        head = nn.Sequential(nn.BatchNorm2d(dim), nn.Conv2d(dim, len(spec.classes), 1)).to(device)
        nn.init.normal_(head[1].weight, std=0.01)  # mmseg's conv_seg init
        nn.init.zeros_(head[1].bias)
        losses = self.train(backbone, head, ctx)
        matrix = self.evaluate(backbone, head.eval(), ctx)
        changed = changed_keys(before, backbone)
        if changed:
            raise RuntimeError(f"segmentation changed {len(changed)} frozen backbone tensor(s) such as {changed[0]}")
        result = scores(matrix)
        per_class = result.pop("per_class_iou")
        every = max(1, self.iters // 20)
        return TaskOutput(metric="miou", value=result["miou"], metrics=result,
                          extra={"per_class_iou": per_class, "classes": spec.classes, "feature_channels": dim,
                                 "train_loss_every": {i: losses[i] for i in range(0, len(losses), every)},
                                 "photometric_distortion": "not applied", "backbone_unchanged": True})

    def _features(self, backbone: nn.Module, images: torch.Tensor, ctx: SegmentationContext) -> tuple[torch.Tensor, tuple]:
        """uint8 (B, 3, H, W) -> frozen map (B, C, h, w) float32, and the (H, W) it stands for (a ViT
        input padded up to its patch)."""
        x = normalize_batch(images, ctx.device, ctx.stats)
        if is_vit(backbone):
            p = backbone.patch_embed.patch_size[0]
            x = F.pad(x, (0, -x.shape[-1] % p, 0, -x.shape[-2] % p))
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=compute_precision(ctx.device) == "bf16"):
            return feature_map(backbone, x).float(), tuple(x.shape[-2:])

    def _logits(self, backbone, head, images: torch.Tensor, ctx) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> logits (B, K, H, W), bilinear from the feature grid."""
        feats, padded = self._features(backbone, images, ctx)
        logits = F.interpolate(head(feats), size=padded, mode="bilinear", align_corners=False)
        return logits[..., :images.shape[-2], :images.shape[-1]]

    def train(self, backbone, head, ctx: SegmentationContext) -> list[float]:
        opt = torch.optim.AdamW(head.parameters(), lr=self.lr, betas=(0.9, 0.999), weight_decay=self.weight_decay)
        stream = TrainStream(ctx.spec.splits["train"], self.iters * self.batch_size, self, ctx.seed)
        loader = DataLoader(stream, batch_size=self.batch_size, num_workers=loader_workers(self.num_workers, len(stream)),
                            pin_memory=ctx.device.type == "cuda")
        head.train()
        losses = []
        for it, (images, masks) in enumerate(loader):
            for group in opt.param_groups:
                group["lr"] = self.lr_at(it)
            masks = masks.to(ctx.device)  # (B, crop, crop)
            logits = self._logits(backbone, head, images, ctx)  # (B, K, crop, crop)
            loss = F.cross_entropy(logits, masks, ignore_index=ctx.spec.ignore_index, reduction="sum") / masks.numel()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    @torch.no_grad()
    def slide(self, backbone, head, image: torch.Tensor, classes: int, ctx) -> torch.Tensor:
        """(3, H, W) uint8 -> (K, H, W) logits averaged over mmseg's sliding windows."""
        h, w = image.shape[-2:]
        crop, step = self.crop_size, self.stride
        out = torch.zeros(classes, h, w, device=ctx.device)
        count = torch.zeros(1, h, w, device=ctx.device)
        for i in range(max(h - crop + step - 1, 0) // step + 1):
            for j in range(max(w - crop + step - 1, 0) // step + 1):
                y2, x2 = min(i * step + crop, h), min(j * step + crop, w)
                y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
                out[:, y1:y2, x1:x2] += self._logits(backbone, head, image[None, :, y1:y2, x1:x2], ctx)[0]
                count[:, y1:y2, x1:x2] += 1
        return out / count

    def evaluate(self, backbone, head, ctx: SegmentationContext) -> torch.Tensor:
        spec, classes = ctx.spec, len(ctx.spec.classes)
        data = TestImages(spec.splits["test"], self.scale)
        loader = DataLoader(data, batch_size=None, num_workers=loader_workers(self.num_workers, len(data)))
        matrix = torch.zeros(classes, classes, dtype=torch.int64)
        for image, mask in loader:
            logits = self.slide(backbone, head, image, classes, ctx)  # (K, h, w) at the test scale
            logits = F.interpolate(logits[None], size=tuple(mask.shape), mode="bilinear", align_corners=False)[0]
            matrix += confusion(logits.argmax(0).cpu(), mask, classes, spec.ignore_index)
        return matrix
