"""Training and test resizing of the linear segmentation protocol, as DINOv2's linear configs
run it in mmsegmentation 0.x (their released ``dinov2_vit*14_{ade20k,voc2012}_linear_config.py``,
as copied in Jiawei-Yang/Denoising-ViT ``evaluation/configs/vitb_voc2012_linear_config.py``;
the ops of open-mmlab/mmsegmentation ``mmseg/datasets/pipelines/transforms.py``):

- train: ``Resize(img_scale=(2048, 512), ratio_range=(0.5, 2.0))`` keeping the aspect ratio (the
  image is scaled to fit inside the scale x a random ratio), ``RandomCrop(512, cat_max_ratio=0.75)``
  (up to 10 draws until no one class covers 75% of the crop's labelled pixels), a flip with
  probability 1/2, ``Pad`` to the crop (image 0, mask 255). The configs also apply
  ``PhotoMetricDistortion``; it is not applied here (the row says so).
- test: the image scaled to fit inside (2048, 512), keeping its aspect ratio; the prediction is
  resized back to the mask's size before scoring.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from evalsuite.segmentation.datasets import IGNORE


def fit_scale(width: int, height: int, scale: tuple[int, int], ratio: float = 1.0) -> tuple[int, int]:
    """(w, h) after mmseg's keep-ratio rescale into ``scale`` x ``ratio`` (long, short side)."""
    long_side, short_side = scale[0] * ratio, scale[1] * ratio
    factor = min(long_side / max(width, height), short_side / min(width, height))
    return max(1, int(width * factor + 0.5)), max(1, int(height * factor + 0.5))


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (3, H, W) uint8."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)


def test_image(image: Image.Image, scale: tuple[int, int]) -> torch.Tensor:
    """The test image scaled into ``scale`` (bilinear), (3, h, w) uint8."""
    return to_tensor(image.resize(fit_scale(*image.size, scale), Image.BILINEAR))


def _crop_box(mask: np.ndarray, crop: int, cat_max_ratio: float, rng: random.Random) -> tuple[int, int]:
    h, w = mask.shape
    for _ in range(10):
        top, left = rng.randint(0, max(h - crop, 0)), rng.randint(0, max(w - crop, 0))
        labels = mask[top:top + crop, left:left + crop]
        _, counts = np.unique(labels[labels != IGNORE], return_counts=True)
        if len(counts) > 1 and counts.max() / counts.sum() < cat_max_ratio:
            break
    return top, left


def train_pair(image: Image.Image, mask: np.ndarray, scale: tuple[int, int], ratio_range: tuple[float, float],
               crop: int, cat_max_ratio: float, flip: bool, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
    """One augmented training pair: (3, crop, crop) uint8 image, (crop, crop) int64 mask."""
    size = fit_scale(*image.size, scale, rng.uniform(*ratio_range))
    image = image.resize(size, Image.BILINEAR)
    mask = np.asarray(Image.fromarray(mask.astype(np.uint8)).resize(size, Image.NEAREST), dtype=np.int64)
    top, left = _crop_box(mask, crop, cat_max_ratio, rng)
    img = to_tensor(image)[:, top:top + crop, left:left + crop]
    lab = torch.from_numpy(mask[top:top + crop, left:left + crop].copy())
    if flip and rng.random() < 0.5:
        img, lab = img.flip(-1), lab.flip(-1)
    pad = (0, crop - img.shape[-1], 0, crop - img.shape[-2])
    return F.pad(img, pad, value=0), F.pad(lab, pad, value=IGNORE)
