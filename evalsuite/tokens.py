"""Token maps of a frozen backbone, for the probes that read more than one pooled vector
(``attentive``, ``segmentation``), and their float16 disk cache.

What a backbone gives as tokens:
- a ViT (timm's ``VisionTransformer``, so every ``vit_*`` arch and ``timm:`` ViT): its class token
  (where it has one) and its patch tokens, registers left out. ``layers=1`` takes the encoder's
  output after its final norm, as V-JEPA's attentive probe reads its encoder (facebookresearch/jepa,
  ``evals/image_classification_frozen/eval.py``: the classifier gets ``encoder(imgs)``); ``layers=k``
  averages the outputs of the last k blocks before any norm, as AIM's probe does (apple/ml-aim,
  ``aim-v1/aim/v1/torch/models.py``: ``AverageLayers`` over ``probe_layers``, default the last 6).
- a ResNet (torchvision naming) or a timm CNN: the last feature map (N, C, h, w), its positions as
  tokens. Anything else gives only a pooled vector and is refused in one sentence.

Tokens are the same frozen, eval-mode, inference-mode forward as the pooled features
(``evalsuite.features``), on the same transformed images (``ImageSource``). They are cached on disk
as one float16 ``.npy`` per split (memory-mapped on read) when all splits fit ``budget_gb``;
otherwise the backbone runs on the fly for every batch. Both give the same tokens up to float16
rounding, so the choice is reported in the row (``extra.tokens``), not part of the protocol.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.models import ResNet

from evalsuite.atomic import atomic_path, reclaim_temp
from evalsuite.errors import EvalsuiteError, FeaturesRefused
from evalsuite.cache import FeatureKey
from evalsuite.imaging import Transformed, compute_precision, loader_workers, normalize_batch
from evalsuite.progress import progress

#: Channels per attention head where the backbone has no heads of its own (a CNN's feature map);
#: ViTs use their own head count (V-JEPA builds its pooler with ``encoder.num_heads``).
CNN_HEAD_DIM = 64


@dataclass(frozen=True)
class ImageSource:
    """How the feature step reads a dataset's images, so token tasks read exactly the same ones.

    ``key(split)`` is the feature-cache key of that split (checkpoint, transform, sizes, precision);
    the token cache extends it with what the tokens are."""

    transform: Callable
    transform_id: str
    stats: tuple
    key: Callable[[str], FeatureKey]
    cache_root: Path
    batch_size: int
    num_workers: int
    quiet: bool = True


def is_vit(model: nn.Module) -> bool:
    return isinstance(model, VisionTransformer)


def feature_map(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Normalised images (N, 3, H, W) -> the last spatial map (N, C, h, w): a ViT's final-norm patch
    tokens on their grid, a CNN's last stage."""
    if is_vit(model):
        tokens = model.forward_features(x)  # (N, prefix + h*w, C)
        patch = model.patch_embed.patch_size[0]
        h, w = x.shape[-2] // patch, x.shape[-1] // patch
        return tokens[:, model.num_prefix_tokens:].transpose(1, 2).reshape(len(x), -1, h, w)
    if isinstance(model, ResNet) or all(hasattr(model, f"layer{i}") for i in range(1, 5)):
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        return model.layer4(model.layer3(model.layer2(model.layer1(x))))  # (N, C, h, w)
    out = model.forward_features(x) if hasattr(model, "forward_features") else None
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        arch = getattr(model, "arch_name", type(model).__name__)
        raise EvalsuiteError(f"arch {arch!r} gives no token map (only a pooled vector); the token probes "
                             "(attentive, segmentation) take ViTs (vit_*, timm:ViT) and CNNs with a last feature map "
                             "(ResNets, timm CNNs)")
    return out


def token_sequence(model: nn.Module, x: torch.Tensor, layers: int = 1) -> torch.Tensor:
    """Normalised images (N, 3, H, W) -> tokens (N, T, C) (module docstring)."""
    if not is_vit(model):
        if layers != 1:
            raise EvalsuiteError(f"layers={layers} averages ViT blocks; a CNN has one last feature map, so use layers=1")
        return feature_map(model, x).flatten(2).transpose(1, 2)  # (N, h*w, C)
    has_cls = model.cls_token is not None
    if layers == 1:
        tokens = model.forward_features(x)  # (N, prefix + L, C), final norm applied
        return torch.cat([tokens[:, :1], tokens[:, model.num_prefix_tokens:]], 1) if has_cls \
            else tokens[:, model.num_prefix_tokens:]
    if layers > len(model.blocks):
        raise EvalsuiteError(f"layers={layers} is more than the {len(model.blocks)} blocks of this ViT; "
                             f"give 1..{len(model.blocks)}")
    outs = model.forward_intermediates(x, indices=layers, return_prefix_tokens=True, norm=False,
                                       output_fmt="NLC", intermediates_only=True)
    patches = torch.stack([p for p, _ in outs]).mean(0)  # (N, L, C)
    if not has_cls:
        return patches
    return torch.cat([torch.stack([prefix[:, :1] for _, prefix in outs]).mean(0), patches], 1)  # (N, 1 + L, C)


def heads_of(model: nn.Module, dim: int) -> int:
    """The encoder's attention heads (ViT), else ``dim / CNN_HEAD_DIM`` where that divides, else 1."""
    if is_vit(model):
        return model.blocks[-1].attn.num_heads if len(model.blocks) else max(1, dim // CNN_HEAD_DIM)
    heads = dim // CNN_HEAD_DIM
    return heads if heads >= 1 and dim % heads == 0 else 1


def _forward(model: nn.Module, images: torch.Tensor, device: torch.device, stats: tuple,
             layers: int) -> torch.Tensor:
    """uint8 images (B, 3, H, W) -> tokens (B, T, C) float32, frozen (eval, inference mode, bf16 on CUDA)."""
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16,
                                                enabled=compute_precision(device) == "bf16"):
        tokens = token_sequence(model, normalize_batch(images, device, stats), layers).float()
    check_tokens(tokens)
    return tokens


def check_tokens(tokens: torch.Tensor, fp16: bool = False) -> None:
    """Tokens (B, T, C) with NaN or inf cannot be probed; cached tokens must fit float16 (65504)."""
    bad = (~torch.isfinite(tokens)).flatten(1).any(1)  # (B,)
    if bool(bad.any()):
        raise FeaturesRefused(f"tokens of {int(bad.sum())} of {len(bad)} images in a batch hold NaN or inf: the "
                              "backbone's forward overflowed or divided by zero, or its weights are not finite "
                              "('evalsuite inspect CHECKPOINT' shows which); nothing was cached")
    if fp16 and bool((tokens.abs() > torch.finfo(torch.float16).max).any()):
        raise FeaturesRefused("tokens exceed float16's range (65504), so they cannot be cached in float16; set "
                              "attentive.cache_budget_gb=0 to run the backbone on the fly in float32")


class TokenSplit:
    """One split's tokens: ``targets`` (N,) or (N, C), and ``tokens(rows)`` (B, T, C) float32 on the device."""

    targets: torch.Tensor

    def tokens(self, rows: np.ndarray, device: torch.device) -> torch.Tensor:
        raise NotImplementedError


class CachedTokens(TokenSplit):
    def __init__(self, array: np.ndarray, targets: torch.Tensor) -> None:
        self.array, self.targets = array, targets  # (N, T, C) float16, memory-mapped

    def tokens(self, rows: np.ndarray, device: torch.device) -> torch.Tensor:
        sorted_rows = np.sort(rows)  # a memory map reads in file order; the batch is put back in draw order
        block = torch.from_numpy(np.asarray(self.array[sorted_rows]))
        return block[torch.as_tensor(np.searchsorted(sorted_rows, rows))].to(device).float()


class LiveTokens(TokenSplit):
    """The backbone runs on every batch (tokens too large for the cache budget); images are decoded in
    this process, batch by batch."""

    def __init__(self, model: nn.Module, dataset: Dataset, src: ImageSource, layers: int) -> None:
        from evalsuite.tasks.finetune_data import targets_of  # labels without decoding images where possible

        self.model, self.images, self.src, self.layers = model, Transformed(dataset, src.transform), src, layers
        self.targets = torch.as_tensor(targets_of(dataset))

    def tokens(self, rows: np.ndarray, device: torch.device) -> torch.Tensor:
        images = torch.stack([self.images[int(i)][0] for i in rows])  # (B, 3, H, W) uint8
        return _forward(self.model, images, device, self.src.stats, self.layers)


def batches(parts: list[tuple[TokenSplit, np.ndarray]], batch_size: int, seed: int | None,
            device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(tokens (B, T, C), targets) over the rows ``index`` of each (split, index) part: in order, or
    shuffled across all parts by ``seed``."""
    which = np.concatenate([np.full(len(index), p) for p, (_, index) in enumerate(parts)])
    rows = np.concatenate([index for _, index in parts])
    if seed is not None:
        order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).numpy()
        which, rows = which[order], rows[order]
    for start in range(0, len(rows), batch_size):
        w, r = which[start:start + batch_size], rows[start:start + batch_size]
        tokens, targets = [], []
        for p in np.unique(w):
            split = parts[p][0]
            tokens.append(split.tokens(r[w == p], device))
            targets.append(split.targets[torch.as_tensor(r[w == p])])
        yield torch.cat(tokens), torch.cat(targets).to(device)


def token_shape(model: nn.Module, dataset: Dataset, src: ImageSource, layers: int, device: torch.device) -> tuple[int, int]:
    """(T, C) of one image's tokens, from one forward."""
    image, _ = Transformed(dataset, src.transform)[0]
    return tuple(_forward(model, image[None], device, src.stats, layers).shape[1:])


def token_splits(model: nn.Module, splits: dict[str, Dataset], src: ImageSource, layers: int, budget_gb: float,
                 device: torch.device) -> tuple[dict[str, TokenSplit], dict]:
    """Every split's tokens, cached when all of them fit ``budget_gb`` in float16, else live; and the
    row's record of which (``{"store": "cached fp16" | "on the fly", "shape": [T, C], "gb": ...}``)."""
    model.eval().to(device)
    t, c = token_shape(model, next(iter(splits.values())), src, layers, device)
    gb = sum(len(d) for d in splits.values()) * t * c * 2 / 2**30
    record = {"store": "cached fp16" if gb <= budget_gb else "on the fly", "shape": [t, c], "gb": round(gb, 4),
              "budget_gb": budget_gb}
    if gb > budget_gb:
        return {k: LiveTokens(model, d, src, layers) for k, d in splits.items()}, record
    cache = TokenCache(src.cache_root)
    return {k: cache.get_or_build(model, k, d, src, layers, device, (t, c)) for k, d in splits.items()}, record


class TokenCache:
    """``cache_root/tokens/<digest>.npy`` (float16 (N, T, C)) and ``.targets.pt``, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "tokens"
        self.root.mkdir(parents=True, exist_ok=True)
        reclaim_temp(self.root)

    def get_or_build(self, model: nn.Module, split: str, dataset: Dataset, src: ImageSource, layers: int,
                     device: torch.device, shape: tuple[int, int]) -> CachedTokens:
        """The split's cached tokens, built on first use; ``shape``: one image's (T, C) (``token_shape``)."""
        features_key = src.key(split)
        key = dataclasses.replace(features_key, arch=f"{features_key.arch}|tokens:layers={layers}")
        digest = key.digest()
        array_path, targets_path = self.root / f"{digest}.npy", self.root / f"{digest}.targets.pt"
        if array_path.is_file() and targets_path.is_file():
            try:
                return CachedTokens(np.load(array_path, mmap_mode="r"), torch.load(targets_path, weights_only=True))
            except (ValueError, OSError, RuntimeError):
                pass  # a damaged entry is rebuilt
        t, c = shape
        loader = DataLoader(Transformed(dataset, src.transform), batch_size=src.batch_size,
                            num_workers=loader_workers(src.num_workers, len(dataset)))
        with atomic_path(array_path) as tmp:
            array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(dataset), t, c))
            targets, at = [], 0
            for images, target in progress(loader, len(loader), f"tokens {key.dataset}/{split}", src.quiet):
                tokens = _forward(model, images, device, src.stats, layers)  # (B, T, C)
                check_tokens(tokens, fp16=True)
                array[at:at + len(images)] = tokens.cpu().half().numpy()
                at += len(images)
                targets.append(target)
            array.flush()
            del array
            with atomic_path(targets_path) as tmp_targets:
                torch.save(torch.cat(targets), tmp_targets)
        return CachedTokens(np.load(array_path, mmap_mode="r"), torch.load(targets_path, weights_only=True))
