"""Official MAE checkpoints (He et al. 2022): the encoder, decoder dropped.

facebookresearch/mae ``util/misc.py`` ``save_model`` writes ``{'model', 'optimizer', 'epoch',
'scaler', 'args'}`` with ``model`` the unwrapped ``MaskedAutoencoderViT`` state dict
(``models_mae.py``): the encoder in timm's ViT naming (``cls_token``, ``pos_embed``, ``patch_embed``,
``blocks``, ``norm``) beside ``mask_token`` and the ``decoder_*`` modules, which only
reconstruction uses (the structural search drops them). The released ``mae_pretrain_vit_*.pth``
files are ``{'model': encoder}``. No renaming: this adapter names the method and epochs.

DeiT's ``main.py`` also saves ``{'model', ...}`` in timm naming, with its classifier ``head``: a
file with a head and no decoder is not taken as MAE's, and ``method`` is only claimed when the
decoder or ``args.model`` shows MAE.
"""

from __future__ import annotations

from evalsuite.registry import FORMATS


def _is_mae(model) -> bool:
    """An MAE encoder (timm naming) with its decoder, or the released encoder without a head."""
    if not (isinstance(model, dict) and "cls_token" in model and "patch_embed.proj.weight" in model):
        return False
    return "decoder_embed.weight" in model or "head.weight" not in model


@FORMATS.register_module("mae")
def mae(obj: dict) -> tuple[None, dict] | None:
    if not _is_mae(obj.get("model")):
        return None
    meta = {}
    model_name = getattr(obj.get("args"), "model", None)
    if "decoder_embed.weight" in obj["model"] or str(model_name).startswith("mae_"):
        meta["method"] = "mae"
    if isinstance(obj.get("epoch"), int):
        meta["epochs"] = obj["epoch"] + 1  # saved after epoch ``epoch`` (0-based) finished
    if isinstance(model_name, str):
        meta["arch_hint"] = model_name
    return None, meta
