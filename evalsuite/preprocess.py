"""Image preprocessing of the frozen-feature tasks as settings of the suite (``features=dict(...)``).

Two choices decide what a backbone sees, and both land in the transform id (cache key, result
row, protocol id):

- ``normalize``: ``imagenet`` (torchvision's ImageNet statistics, the default: every torchvision-
  style backbone was trained with them), ``none`` (pixels in [0, 1]), ``checkpoint`` (the mean/std
  in the checkpoint's metadata), or explicit ``mean=[...]`` and ``std=[...]``. ``normalize=False``
  / ``True`` mean ``none`` / ``imagenet``.
- ``resize`` (also ``--resolution``): ``auto`` (default), ``resize256-crop224`` (short side 256,
  centre crop 224: MoCo/SimSiam ``main_lincls.py``, He et al. 2020, Chen & He 2021 App. A),
  ``bicubic224`` (short side 224 bicubic, centre crop 224: ssl-transfer's ``linear.py``, Ericsson
  et al. 2021), ``native`` (the stored size, at least 32 px), or N (short side round(N * 256/224),
  centre crop N: the 224 protocol's ratio at another size).

``auto`` follows what the backbone was trained at when that is known: a small-input (3x3 stem)
arch on images of at most ``SMALL_IMAGE`` px runs at native size (a user's or timm's arch is
small-input when it says so or when its stem keeps 32-px maps, ``evalsuite/archs/stem.py``); a backbone with a
``train_resolution`` attribute (ViTs) or a checkpoint whose metadata states ``resolution`` runs at
that N; anything else gets the transfer protocol's 224. Small images upscaled to 224 for a backbone
whose training size is unknown get one line on stderr naming ``--resolution``. A size the backbone
cannot take (a ViT's patches must tile it) is refused here, before any image is decoded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from torchvision.transforms import v2 as T

from evalsuite.errors import EvalsuiteError

#: ImageNet channel statistics, the normalisation every torchvision-style backbone was trained with.
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: The transfer protocol's resize and crop (He et al. 2020 / Chen & He 2021 ``main_lincls.py``).
RESIZE, CROP = 256, 224
#: Images of at most this many px are "small" (CIFAR, digits, STL's 96 px is not): a small-input
#: arch runs them at native size, never below ``MIN_SMALL``.
SMALL_IMAGE, MIN_SMALL = 64, 32
NORMALIZE = ("imagenet", "none", "checkpoint")
#: The row's ``resolution_from`` when a user's or timm's arch was found small-input by its stem
#: (``evalsuite/archs/stem.py``), not by its own declaration.
STEM_SOURCE = "small-input stem (first conv 3x3 or smaller at stride 1, no pooling before the first stage)"
RESIZES = ("auto", "resize256-crop224", "bicubic224", "native")


def is_small(native_size: int) -> bool:
    """The one 64-px rule: images this small are run at native size by small-input archs."""
    return native_size <= SMALL_IMAGE


def native_side(native_size: int) -> int:
    return max(native_size, MIN_SMALL)


@dataclass(frozen=True)
class Preprocess:
    """The validated preprocessing settings of a suite (module docstring)."""

    normalize: str = "imagenet"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: str | int = "auto"

    @classmethod
    def from_cfg(cls, cfg: dict) -> "Preprocess":
        """From the suite's ``features`` dict; a bad value is one sentence naming it and the valid ones."""
        normalize = cfg.get("normalize", "imagenet")
        normalize = {True: "imagenet", False: "none"}.get(normalize, normalize) if isinstance(normalize, bool) else normalize
        mean, std = cfg.get("mean"), cfg.get("std")
        if (mean is None) != (std is None):
            raise EvalsuiteError("features.mean and features.std go together; give both (3 values each) or neither")
        if mean is not None:
            mean, std = _channels("mean", mean), _channels("std", std)
            if any(s <= 0 for s in std):
                raise EvalsuiteError(f"features.std={list(std)} must be positive")
            if cfg.get("normalize", "custom") not in ("custom", True):
                raise EvalsuiteError(f"features.normalize={normalize!r} contradicts the explicit features.mean/std; drop one")
            normalize = "custom"
        elif normalize not in NORMALIZE:
            raise EvalsuiteError(f"features.normalize={normalize!r} is not valid; use one of: {', '.join(NORMALIZE)}, "
                                 "True, False, or features.mean=[...] features.std=[...]")
        return cls(normalize, mean, std, _resize(cfg.get("resize", "auto")))

    def stats(self, meta: dict) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) per channel; ``meta`` is the checkpoint's metadata (for ``checkpoint``)."""
        if self.normalize == "custom":
            return self.mean, self.std
        if self.normalize == "none":
            return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        if self.normalize == "checkpoint":
            if meta.get("mean") is None or meta.get("std") is None:
                raise EvalsuiteError("features.normalize='checkpoint' but the checkpoint's metadata has no mean/std; "
                                     "use imagenet, none or features.mean=[...] features.std=[...]")
            return _channels("checkpoint mean", meta["mean"]), _channels("checkpoint std", meta["std"])
        return IMAGENET

    def norm_id(self, meta: dict) -> str:
        """'' for ImageNet statistics (the ids of earlier rows stay valid), else what was used."""
        if self.normalize == "imagenet":
            return ""
        if self.normalize == "none":
            return "-norm=none"
        mean, std = self.stats(meta)
        return "-norm=" + ",".join(f"{v:g}" for v in (*mean, *std))

    def transform(self, native_size: int, model, meta: dict, quiet: bool = False) -> tuple[T.Compose, str, str]:
        """(uint8 transform, its id, where the resolution came from) for a dataset of ``native_size`` px."""
        resize, source = self.resize, "setting"
        if resize == "auto":
            resize, source = auto_resize(native_size, model, meta)
            if source == "default" and is_small(native_size) and not quiet:
                print(f"note: {native_size}-px images are upscaled to 224 px because the backbone's training resolution "
                      "is unknown; --resolution native or --resolution N evaluates at another size", file=sys.stderr)
        if resize == "native":
            side = crop = native_side(native_size)
            ops, tid = [T.Resize(side), T.CenterCrop(side)], f"native{side}"
        elif resize == "bicubic224":
            crop = CROP
            ops, tid = [T.Resize(CROP, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(CROP)], "bicubic224"
        else:
            crop = CROP if resize == "resize256-crop224" else int(resize)
            side = round(crop * RESIZE / CROP)
            ops, tid = [T.Resize(side), T.CenterCrop(crop)], f"resize{side}-crop{crop}"
        setting = f"features.resize / --resolution {self.resize}" + (f" ({source})" if self.resize == "auto" else "")
        check_side(model, crop, setting)
        return T.Compose([T.PILToTensor(), *ops]), tid + self.norm_id(meta), source


def check_side(model, side: int, setting: str) -> None:
    """Refuse, before any image is decoded, a size the backbone cannot take (a ViT's patches must tile it)."""
    problem = getattr(model, "side_problem", None)
    problem = problem(side, side) if problem else None
    if problem:
        raise EvalsuiteError(f"{setting} gives {side}x{side} images, but {problem}")


def eval_transform(native_size: int, small_input_arch: bool) -> tuple[T.Compose, str]:
    """The default deterministic uint8 transform and its identifier (``Preprocess`` with ``resize=auto`` for a backbone known only by ``small_input``)."""
    resize = "native" if small_input_arch and is_small(native_size) else "resize256-crop224"
    transform, tid, _ = Preprocess(resize=resize).transform(native_size, None, {})
    return transform, tid


def auto_resize(native_size: int, model, meta: dict) -> tuple[str | int, str]:
    """What ``resize=auto`` means for this backbone, and why."""
    if getattr(model, "small_input", False) and is_small(native_size):
        return "native", STEM_SOURCE if getattr(model, "small_input_from", "") == "stem" else "small-input arch"
    trained = getattr(model, "train_resolution", None) or meta.get("resolution")
    if trained:
        return int(trained), "backbone's training resolution"
    return "resize256-crop224", "default"


def _resize(value) -> str | int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 8 <= value <= 4096:
            raise EvalsuiteError(f"resolution {value} is out of range; give 8..4096 px, native or auto")
        return value
    if value not in RESIZES:
        raise EvalsuiteError(f"features.resize / --resolution {value!r} is not valid; use one of: {', '.join(RESIZES)}, or N px")
    return value


def _channels(name: str, values) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        out = ()
    if len(out) != 3:
        raise EvalsuiteError(f"{name}={values!r} must be 3 numbers, one per RGB channel, e.g. [0.5, 0.5, 0.5]")
    return out
