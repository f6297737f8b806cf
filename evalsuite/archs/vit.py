"""Vision Transformers (Dosovitskiy et al. 2021) through timm, in timm's parameter naming, no head.

Built with ``pretrained=False``: nothing is ever downloaded. An arch name spells the shapes that a
checkpoint fixes, so ``infer_vit`` can read it back from a state dict::

    vit_{tiny|small|base|large|huge}_patch{8|14|16}[_h{heads}][_ls][_reg{n} | _gap][_{resolution}]

- ``_h{heads}``: attention heads, when not width / 64. Shapes cannot tell heads apart, so only a
  layout that names its arch sets this (MoCo v3's ``vit_small`` has 12 heads, ``vits.py``).
- ``_ls``: LayerScale (``blocks.i.ls1.gamma``), as DINOv2 trains (Oquab et al. 2024, Sec. 5).
- ``_reg{n}``: n register tokens (Darcet et al. 2024), outside the position embedding
  (timm's ``no_embed_class``), which is how DINOv2's registers read once its class position is
  folded into the class token (``evalsuite/checkpoint/formats/dinov2.py``).
- ``_gap``: no class token (I-JEPA, Assran et al. 2023); features are average-pooled.
- ``_{resolution}``: position-embedding grid x patch size, when it is not 224 (DINOv2's 518).

Widths, depths and heads are the standard ones (ViT paper, Table 1; DeiT for tiny/small), with
64-dim heads unless ``_h`` says otherwise. ``timm:NAME`` builds any timm model instead (``build_vit``).

Position embeddings are resampled to the input's grid at every forward (timm's
``dynamic_img_size``, bicubic), so a backbone trained at 224 or 518 evaluates at any size that
its patch divides. ``train_resolution`` (grid x patch) says what it was trained at.

Feature modes (``FEATURE_MODES``), a setting of the suite (``features.mode``) recorded in each row
and part of its protocol id. DINO's linear evaluation (Caron et al. 2021, Sec. 4.1 and App. B;
facebookresearch/dino ``eval_linear.py``, ``--n_last_blocks``, ``--avgpool_patchtokens``) defines them:
- ``cls``: the final-norm class token (DINO's kNN, ``eval_knn.py``); the default with a class token.
- ``avgpool``: the mean of the final-norm patch tokens (class token and registers excluded); the
  default without a class token (I-JEPA).
- ``cls+avgpool``: both, concatenated: DINO's ViT-B linear setting (``n_last_blocks=1``,
  ``avgpool_patchtokens=True``; DINO interleaves the two vectors, a permutation that no kNN or
  linear probe can see).
- ``cls_last4``: the final-norm class tokens of the last 4 blocks, concatenated: DINO's ViT-S
  linear setting (``n_last_blocks=4``, its default).
- ``cls_last4+avgpool``: ``cls_last4`` then the ``avgpool`` vector: every input of DINOv2's linear
  heads in one extraction (``dinov2/eval/linear.py``, ``create_linear_input``: the last 1 or 4 class
  tokens, with or without the pooled patch tokens), which ``linear_multi`` slices.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import timm
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from evalsuite.errors import EvalsuiteError, one_of
from evalsuite.registry import ARCH_GUESSERS, ARCHS

#: width, depth (ViT paper Table 1; DeiT, Touvron et al. 2021, Table 1 for tiny and small).
SIZES = {"tiny": (192, 12), "small": (384, 12), "base": (768, 12), "large": (1024, 24), "huge": (1280, 32)}
WIDTH_TO_SIZE = {width: size for size, (width, _) in SIZES.items()}
HEAD_DIM = 64  # every size above has 64-dim heads: heads = width / 64
PATCHES = (8, 14, 16)
DEFAULT_RESOLUTION = 224
TIMM_PREFIX = "timm:"
#: Feature modes and the multiple of the width each one gives.
FEATURE_MODES = {"cls": 1, "avgpool": 1, "cls+avgpool": 2, "cls_last4": 4, "cls_last4+avgpool": 5}
LAST_BLOCKS = 4  # DINO's n_last_blocks for ViT-S linear evaluation (eval_linear.py)

_NAME = re.compile(r"vit_(?P<size>[a-z]+)_patch(?P<patch>\d+)(?:_h(?P<heads>\d+))?(?P<ls>_ls)?"
                   r"(?:_reg(?P<reg>\d+)|(?P<gap>_gap))?(?:_(?P<res>\d+))?")


@dataclass(frozen=True)
class ViTSpec:
    """The shapes a ViT checkpoint fixes."""

    size: str
    patch: int
    layer_scale: bool = False
    registers: int = 0
    class_token: bool = True
    resolution: int = DEFAULT_RESOLUTION
    heads: int = 0  # 0: width / HEAD_DIM

    @property
    def name(self) -> str:
        heads = f"_h{self.heads}" if self.heads and self.heads != SIZES[self.size][0] // HEAD_DIM else ""
        tokens = "_gap" if not self.class_token else (f"_reg{self.registers}" if self.registers else "")
        res = "" if self.resolution == DEFAULT_RESOLUTION else f"_{self.resolution}"
        return f"vit_{self.size}_patch{self.patch}{heads}{'_ls' if self.layer_scale else ''}{tokens}{res}"

    @classmethod
    def parse(cls, name: str) -> ViTSpec | None:
        m = _NAME.fullmatch(name)
        if m is None or m["size"] not in SIZES:
            return None
        res, heads = int(m["res"] or DEFAULT_RESOLUTION), int(m["heads"] or 0)
        if res % int(m["patch"]) or (heads and SIZES[m["size"]][0] % heads):
            return None
        return cls(m["size"], int(m["patch"]), bool(m["ls"]), int(m["reg"] or 0), not m["gap"], res, heads)

    def kwargs(self) -> dict:
        width, depth = SIZES[self.size]
        return dict(
            img_size=self.resolution, patch_size=self.patch, embed_dim=width, depth=depth,
            num_heads=self.heads or width // HEAD_DIM,
            init_values=1e-5 if self.layer_scale else None, reg_tokens=self.registers, class_token=self.class_token,
            no_embed_class=self.registers > 0,
            # '' keeps timm from swapping the final ``norm`` for an ``fc_norm``: pooling happens in forward.
            global_pool="", fc_norm=False, num_classes=0, dynamic_img_size=True,
        )


class ViTBackbone(VisionTransformer):
    """timm's ViT whose forward gives (N, D) features in the chosen ``feature_mode``.

    The same parameters and state-dict keys as timm's ``VisionTransformer``; only forward differs.
    """

    small_input = False

    def side_problem(self, height: int, width: int) -> str | None:
        """Why this ViT cannot take (height, width) images, or None: its patches must tile them.
        Asked before any image is decoded (``Preprocess.transform``) and again at every forward."""
        patch = self.patch_embed.patch_size[0]
        if height % patch or width % patch:
            return (f"a ViT with {patch}-px patches needs image sides divisible by {patch}, got {height}x{width}; "
                    f"evaluate at a multiple of {patch}, e.g. 224")
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) -> (N, D)
        problem = self.side_problem(x.shape[-2], x.shape[-1])
        if problem:
            raise EvalsuiteError(problem)
        if self.feature_mode.startswith("cls_last4"):
            layers = self.forward_intermediates(x, indices=LAST_BLOCKS, return_prefix_tokens=True, norm=True,
                                                output_fmt="NLC", intermediates_only=True)
            last4 = [prefix[:, 0] for _, prefix in layers]  # 4 x (N, C)
            pool = [self.fc_norm(layers[-1][0].mean(dim=1))] if self.feature_mode.endswith("avgpool") else []
            return torch.cat(last4 + pool, dim=1)  # (N, 4C) or (N, 5C)
        tokens = self.forward_features(x)  # (N, prefix + L, C), final norm applied
        pooled = []
        if self.feature_mode in ("cls", "cls+avgpool"):
            pooled.append(tokens[:, 0])  # (N, C)
        if self.feature_mode in ("avgpool", "cls+avgpool"):
            pooled.append(tokens[:, self.num_prefix_tokens:].mean(dim=1))  # (N, C)
        # fc_norm normalises a pooled vector (Identity unless a timm:NAME model pools before its norm)
        return torch.cat([self.fc_norm(p) for p in pooled], dim=1)  # (N, C) or (N, 2C)

    def valid_modes(self) -> tuple[str, ...]:
        modes = FEATURE_MODES if self.cls_token is not None else {"avgpool": 1}
        return tuple(m for m in modes if not m.startswith("cls_last4") or len(self.blocks) >= LAST_BLOCKS)

    def set_feature_mode(self, mode: str) -> None:
        if mode not in self.valid_modes():
            raise EvalsuiteError(f"feature mode {mode!r} does not apply to {getattr(self, 'arch_name', 'this ViT')}; "
                                 f"valid modes are: {', '.join(self.valid_modes())}")
        self.feature_mode = mode
        self.num_features = self.embed_dim * FEATURE_MODES[mode]


def _as_backbone(model: VisionTransformer) -> ViTBackbone:
    """Give a timm ViT the evaluation forward; its modules and keys stay timm's own."""
    model.__class__ = ViTBackbone  # adds methods only: ViTBackbone has no state of its own
    grid = model.patch_embed.grid_size[0] if model.patch_embed.grid_size else 0
    model.train_resolution = grid * model.patch_embed.patch_size[0]
    model.set_feature_mode("cls" if model.cls_token is not None else "avgpool")
    return model


def build_spec(spec: ViTSpec) -> ViTBackbone:
    # On the meta device (shape signatures for arch inference) there is nothing to initialise, and
    # timm's truncated-normal init costs ~0.5 s per model there.
    init = "skip" if torch.empty(0).device.type == "meta" else ""
    return _as_backbone(VisionTransformer(**spec.kwargs(), weight_init=init))


def build_vit(name: str) -> nn.Module | None:
    """``timm:NAME`` or a ViT name of the grammar above (any resolution); None for other names."""
    if name.startswith(TIMM_PREFIX):
        return _build_timm(name[len(TIMM_PREFIX):])
    spec = ViTSpec.parse(name)
    return build_spec(spec) if spec else None


def _build_timm(name: str) -> nn.Module:
    if name.split(".")[0] not in timm.list_models():  # a pretrained tag (.mae) names weights, not an arch
        raise EvalsuiteError(f"timm has no model {name!r}; see timm.list_models() (timm {timm.__version__})")
    try:  # ViT-like models resample their position embeddings to the input's grid
        model = timm.create_model(name, pretrained=False, num_classes=0, dynamic_img_size=True)
    except TypeError:  # models without position embeddings (CNNs) take no such argument
        model = timm.create_model(name, pretrained=False, num_classes=0)
    if type(model) is VisionTransformer:  # a plain timm ViT gets the feature modes
        model = _as_backbone(model)
        if model.fc_norm.__class__ is not nn.Identity:  # timm's avg-pool models norm after pooling
            model.set_feature_mode("avgpool")
    return model  # small_input: found from its stem by build_backbone


def is_vit_name(name: str) -> bool:
    return ViTSpec.parse(name) is not None


def with_heads(name: str, heads: int) -> str:
    """A ViT name with ``heads`` attention heads, for layouts whose arch says what shapes cannot."""
    return dataclasses.replace(ViTSpec.parse(name), heads=heads).name


def _block_count(state_dict: dict) -> int:
    indices = {int(m[1]) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def infer_vit(state_dict: dict) -> str | None:
    """The ViT arch name that ``state_dict`` (timm naming, no head) has the shapes of, else None.

    Width from the patch projection, depth from the block indices, patch size from the kernel,
    registers from ``reg_token``, class token from ``cls_token``, LayerScale from ``ls1.gamma``,
    and the resolution from the position-embedding grid. Heads follow from the width (64 each),
    since a state dict cannot tell them apart; the caller checks every shape against the arch.
    """
    proj = state_dict.get("patch_embed.proj.weight")
    pos = state_dict.get("pos_embed")
    if proj is None or pos is None or len(proj.shape) != 4 or len(pos.shape) != 3:
        return None
    width, patch = proj.shape[0], proj.shape[-1]
    size = WIDTH_TO_SIZE.get(width)
    if size is None or _block_count(state_dict) != SIZES[size][1]:
        return None
    class_token = "cls_token" in state_dict
    registers = state_dict["reg_token"].shape[1] if "reg_token" in state_dict else 0
    in_pos = int(class_token) if not registers else 0  # registers imply no_embed_class
    grid = round((pos.shape[1] - in_pos) ** 0.5)
    if grid * grid != pos.shape[1] - in_pos:
        return None
    spec = ViTSpec(size, patch, "blocks.0.ls1.gamma" in state_dict, registers, class_token, grid * patch)
    return spec.name


@ARCH_GUESSERS.register_module("vit")
def guess_vit(tensors: dict) -> str | None:
    """``infer_vit`` under whatever wrapper prefix the ViT is stored (``module.backbone.``, ...)."""
    for key in tensors:
        if key.endswith(_PROJ):
            prefix = key[: -len(_PROJ)]
            name = infer_vit({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
            if name is not None:
                return name
    return None


_PROJ = "patch_embed.proj.weight"


def apply_feature_mode(model: nn.Module, mode: str | None) -> str | None:
    """Set ``mode`` on a backbone that has feature modes; return the mode in use (None: no modes).

    A mode given for a backbone without modes (ResNets pool in one way only) is an error rather than
    a setting the row would claim without it applying.
    """
    if not hasattr(model, "set_feature_mode"):
        if mode is not None:
            arch = getattr(model, "arch_name", type(model).__name__)
            raise EvalsuiteError(f"feature mode {mode!r} applies to ViT backbones only; {arch} has one way to pool, "
                                 "so drop features.mode")
        return None
    if mode is not None:
        if mode not in FEATURE_MODES:
            raise one_of("feature mode", mode, FEATURE_MODES)
        model.set_feature_mode(mode)
    return model.feature_mode


def _register(spec: ViTSpec) -> None:
    ARCHS.register_module(spec.name, module=lambda: build_spec(spec))


# The listed names: Ti/S/B/L with each patch size, with and without 4 registers; DINOv2's release
# shapes (LayerScale, 518 px, with and without registers); I-JEPA's ViT-H releases (no class token).
# Any other name of the grammar builds too (``build_vit``).
for _size in ("tiny", "small", "base", "large"):
    for _patch in PATCHES:
        _register(ViTSpec(_size, _patch))
        _register(ViTSpec(_size, _patch, registers=4))
for _size in ("small", "base", "large"):
    _register(ViTSpec(_size, 14, layer_scale=True, resolution=518))
    _register(ViTSpec(_size, 14, layer_scale=True, registers=4, resolution=518))
_register(ViTSpec("huge", 14, class_token=False))
_register(ViTSpec("huge", 16, class_token=False, resolution=448))
