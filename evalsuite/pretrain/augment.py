"""Batched SSL augmentations on uint8 image tensors, on whatever device the batch is on.

Every sample draws its own parameters (crop box, flip, jitter factors, blur sigma, ...), from a
``torch.Generator`` the trainer reseeds from (seed, epoch, rank) so a resumed run replays the same
views. Operations follow torchvision's definitions, with two documented simplifications for speed:
colour jitter applies brightness, contrast, saturation, hue in that fixed order (torchvision draws a
random order), and hue is a rotation of the YIQ chroma plane rather than an HSV hue shift.

Probabilities per paper (each recipe states its own):
- SimSiam (Chen & He 2021, App. A) = MoCo v2: crop scale (0.2, 1), jitter (0.4, 0.4, 0.4, 0.1)
  p=0.8, grayscale p=0.2, blur p=0.5 (ImageNet only), flip p=0.5.
- SimCLR (Chen et al. 2020, App. A): crop (0.08, 1), jitter strength s=1 -> (0.8, 0.8, 0.8, 0.2)
  p=0.8, grayscale p=0.2, blur p=0.5 (ImageNet only), flip p=0.5.
- BYOL (Grill et al. 2020, Table 6): crop (0.08, 1), jitter (0.4, 0.4, 0.2, 0.1) p=0.8,
  grayscale p=0.2, blur p=1.0 / 0.1, solarize p=0 / 0.2 for the two views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from evalsuite.imaging import channel_stats  # ImageNet channel statistics, the same as evaluation
from evalsuite.rules import AT_LEAST_1, NON_DECREASING, UNIT, ruled

#: Blur sigma range and kernel size of 10% of the image side (SimCLR, App. A).
BLUR_SIGMA = (0.1, 2.0)
#: Rec. 601 luma weights, torchvision's ``rgb_to_grayscale``.
LUMA = (0.299, 0.587, 0.114)


_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))
_CONSTANTS: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = {}


def _const(name: str, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Constant tensors built once per device: a host-to-device copy every step would sync."""
    key = (name, device, dtype)
    if key not in _CONSTANTS:
        to_yiq = torch.tensor(_YIQ, dtype=torch.float64)
        values = {"to_yiq": to_yiq, "from_yiq": torch.linalg.inv(to_yiq)}[name]
        _CONSTANTS[key] = values.to(device=device, dtype=dtype)
    return _CONSTANTS[key]


@dataclass(frozen=True)
class ViewSpec:
    """Augmentation parameters of one view (see the module docstring for each paper's values)."""

    size: int = ruled(32, AT_LEAST_1)
    crop_scale: tuple[float, float] = ruled((0.2, 1.0), UNIT, NON_DECREASING)
    crop_ratio: tuple[float, float] = ruled((3 / 4, 4 / 3), NON_DECREASING)
    flip_p: float = ruled(0.5, UNIT)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = ruled(0.8, UNIT)
    gray_p: float = ruled(0.2, UNIT)
    blur_p: float = ruled(0.0, UNIT)
    solarize_p: float = ruled(0.0, UNIT)


def _uniform(n: int, low: float, high: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (high - low) + low


def _coin(n: int, p: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) < p


def random_resized_crop(x: torch.Tensor, spec: ViewSpec, g: torch.Generator) -> torch.Tensor:
    """(N, 3, H, W) float -> (N, 3, size, size): a crop of random area and aspect ratio, maybe flipped.

    Boxes that would not fit are clamped to the image (torchvision retries 10 times, then falls
    back to a centre crop); the crop is resampled bilinearly through one ``grid_sample``.
    """
    n, device = x.shape[0], x.device
    area = _uniform(n, *spec.crop_scale, g, device)
    log_ratio = _uniform(n, math.log(spec.crop_ratio[0]), math.log(spec.crop_ratio[1]), g, device)
    ratio = log_ratio.exp()
    w = (area * ratio).sqrt().clamp(max=1.0)  # fraction of the width
    h = (area / ratio).sqrt().clamp(max=1.0)
    cx = w / 2 + torch.rand(n, generator=g, device=device) * (1 - w)  # centre in [0, 1]
    cy = h / 2 + torch.rand(n, generator=g, device=device) * (1 - h)
    flip = torch.where(_coin(n, spec.flip_p, g, device), -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = 2 * cx - 1
    theta[:, 1, 1] = h
    theta[:, 1, 2] = 2 * cy - 1
    grid = F.affine_grid(theta, [n, 3, spec.size, spec.size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)  # (N, 1, H, W)


def _per_sample(values: torch.Tensor) -> torch.Tensor:
    return values.view(-1, 1, 1, 1)


def color_jitter(x: torch.Tensor, strength: tuple[float, float, float, float], g: torch.Generator) -> torch.Tensor:
    """Brightness, contrast, saturation and hue with per-sample factors; x in [0, 1]."""
    n, device = x.shape[0], x.device
    b, c, s, h = strength
    if b > 0:
        x = (x * _per_sample(_uniform(n, max(0.0, 1 - b), 1 + b, g, device))).clamp(0, 1)
    if c > 0:
        mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
        factor = _per_sample(_uniform(n, max(0.0, 1 - c), 1 + c, g, device))
        x = (mean + factor * (x - mean)).clamp(0, 1)
    if s > 0:
        gray = _gray(x)
        factor = _per_sample(_uniform(n, max(0.0, 1 - s), 1 + s, g, device))
        x = (gray + factor * (x - gray)).clamp(0, 1)
    if h > 0:
        x = _hue_rotate(x, _uniform(n, -h, h, g, device) * 2 * math.pi)
    return x


def _hue_rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate the chroma (I, Q) plane of YIQ by ``angle`` (N,) radians."""
    to_yiq, from_yiq = _const("to_yiq", x.device), _const("from_yiq", x.device)
    cos, sin = angle.cos(), angle.sin()
    rot = torch.zeros(x.shape[0], 3, 3, device=x.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    m = from_yiq @ rot @ to_yiq  # (N, 3, 3)
    return torch.einsum("nij,njhw->nihw", m, x).clamp(0, 1)


def gaussian_blur(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Separable Gaussian blur, kernel 10% of the side (odd), sigma ~ U(0.1, 2.0) per sample."""
    n, ch, side = x.shape[0], x.shape[1], x.shape[-1]
    k = max(3, int(0.1 * side) // 2 * 2 + 1)
    sigma = _uniform(n, *BLUR_SIGMA, g, x.device)
    offsets = torch.arange(k, device=x.device, dtype=x.dtype) - k // 2
    kernel = torch.exp(-(offsets[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(ch, 0)  # (N*3, k)
    flat = F.pad(x.reshape(1, n * ch, *x.shape[2:]), (k // 2,) * 4, mode="reflect")
    flat = F.conv2d(flat, kernel.view(n * ch, 1, 1, k), groups=n * ch)
    flat = F.conv2d(flat, kernel.view(n * ch, 1, k, 1), groups=n * ch)
    return flat.view_as(x)


def _apply(x: torch.Tensor, p: float, fn, g: torch.Generator) -> torch.Tensor:
    """Apply ``fn`` to each sample with probability ``p``; no host sync, no work when p == 0."""
    if p <= 0:
        return x
    out = fn(x)
    if p >= 1:
        return out
    keep = _per_sample(_coin(x.shape[0], p, g, x.device))
    return torch.where(keep, out, x)


def augment_view(images: torch.Tensor, spec: ViewSpec, g: torch.Generator) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, size, size) float in [0, 1], one random view per sample."""
    x = images.float().div_(255)
    x = random_resized_crop(x, spec, g)
    if any(v > 0 for v in spec.jitter):
        x = _apply(x, spec.jitter_p, lambda t: color_jitter(t, spec.jitter, g), g)
    x = _apply(x, spec.gray_p, lambda t: _gray(t).expand_as(t), g)
    x = _apply(x, spec.blur_p, lambda t: gaussian_blur(t, g), g)
    x = _apply(x, spec.solarize_p, lambda t: torch.where(t >= 0.5, 1 - t, t), g)
    return x


def normalize(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> ImageNet-normalised, channels_last."""
    mean, std = channel_stats(x.device, x.dtype)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)

