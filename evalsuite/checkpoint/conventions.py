"""Which of several fully matching candidates is the network the field evaluates.

A training checkpoint often holds two complete copies of the backbone (a teacher and a student,
a query and a key encoder, a model and its EMA). Each project's own evaluation code reads one of
them; ``CONVENTIONS`` records which, with the file that shows it, so the choice is the project's,
is printed by ``evalsuite inspect`` and can be overridden with ``--key`` (the message names the
other's key). Two candidates holding the same backbone weights are one network reached twice
(BYOL's ``net`` and ``online_encoder.net``; DINOv2's flat release read as it is and through the
``dinov2`` renaming): one is kept, a registered format's reading first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

RENAMING = re.compile(r"<(?P<format>[\w-]+) renaming>")


@dataclass(frozen=True)
class Convention:
    """Where a candidate under ``winner`` and one under a ``losers`` component both fit, the winner
    is what the project evaluates. Components match whole (``online``/``target`` also as a prefix
    up to ``_``: lucidrains' ``online_encoder``, ``target_encoder``)."""

    winner: str
    losers: tuple[str, ...]
    why: str


CONVENTIONS = (
    Convention("teacher", ("student",),
               "DINO evaluates the teacher (Caron et al. 2021, Sec. 3.1; eval_linear.py --checkpoint_key teacher)"),
    Convention("encoder_q", ("encoder_k",),
               "MoCo evaluates the query encoder (He et al. 2020; main_lincls.py loads module.encoder_q)"),
    Convention("base_encoder", ("momentum_encoder",),
               "MoCo v3 evaluates the base encoder (main_lincls.py loads module.base_encoder)"),
    Convention("online", ("target",), "BYOL evaluates the online network (Grill et al. 2020, Sec. 3.1)"),
    Convention("backbone", ("momentum_backbone",),
               "solo-learn evaluates the online backbone (its main_linear.py keeps backbone.)"),
    # lightly-ai/lightly benchmarks/imagenet/resnet50/{byol,dino,mocov2}.py: forward() runs self.backbone,
    # and linear_eval.py / knn_eval.py evaluate the module through forward(); the copy is the other one.
    Convention("backbone", ("teacher_backbone", "student_backbone", "query_backbone"),
               "lightly's benchmarks evaluate backbone, the network forward() runs (benchmarks/imagenet/resnet50/"
               "byol.py, dino.py, mocov2.py; linear_eval.py)"),
    # open-mmlab/mmpretrain mmpretrain/models/selfsup/moco.py (and mmselfsup 1.x mocov2.py):
    # encoder_k = ExponentialMovingAverage(Sequential(backbone, neck)); downstream configs load backbone.
    Convention("backbone", ("encoder_k",),
               "MMPretrain's MoCo evaluates backbone, the query encoder (models/selfsup/moco.py: encoder_k is "
               "its momentum copy)"),
    # open-mmlab/mmpretrain mmpretrain/models/selfsup/byol.py: target_net = CosineEMA(Sequential(backbone,
    # neck)); its downstream linear configs load backbone.
    Convention("backbone", ("target_net",),
               "MMPretrain's BYOL evaluates backbone, the online network (models/selfsup/byol.py: target_net "
               "is its momentum copy)"),
    Convention("state_dict", ("state_dict_ema",),
               "timm's validate.py and clean_checkpoint.py read state_dict unless told --use-ema"),
    Convention("target_encoder", ("encoder",),
               "I-JEPA evaluates the target encoder (Assran et al. 2023; ijepa src/train.py)"),
)


def _component_is(component: str, name: str) -> bool:
    return component == name or (name in ("online", "target") and component.startswith(name + "_"))


def has(candidate, name: str) -> bool:
    """A component of the candidate's location (containers and prefix) is ``name``."""
    return any(_component_is(c, name) for c in candidate.location.split("."))


def _equal(x: torch.Tensor, y: torch.Tensor) -> bool:
    try:
        return x is y or (x.dtype == y.dtype and x.layout == y.layout == torch.strided and torch.equal(x, y))
    except RuntimeError:  # quantized or meta tensors: not comparable, so not the same weights
        return False


def backbone_keys(candidate) -> list[str]:
    """The candidate's keys that the arch loads (heads and anything left out excluded)."""
    dropped = set(candidate.dropped)
    return [k for k in candidate.tensors if candidate.prefix + k not in dropped]


def same_weights(a, b) -> bool:
    """Both candidates load the same tensors into the arch: one network reached twice."""
    keys = backbone_keys(a)
    return sorted(keys) == sorted(backbone_keys(b)) and all(_equal(a.tensors[k], b.tensors[k]) for k in keys)


def _apply(rule: Convention, full: list) -> tuple[list, str | None]:
    losers = [c for c in full if any(has(c, n) for n in rule.losers) and not has(c, rule.winner)]
    if not (losers and any(has(c, rule.winner) for c in full)):
        return full, None
    other = ", ".join(c.location for c in losers)
    return [c for c in full if c not in losers], f"chosen by convention: {rule.why} (the other: --key {other})"


def _one_network(kept, dropped) -> str:
    """Why ``dropped`` was not a second backbone: the same weights as ``kept``."""
    fmt = RENAMING.fullmatch(kept.where)
    reading = f"the {fmt['format']} format's reading is kept" if fmt else f"{kept.location or 'top level'} is kept"
    return (f"one network read two ways: {dropped.location or 'top level'} holds the same weights as "
            f"{kept.location or 'top level'}, {reading}")


def by_convention(full: list) -> tuple[list, list[str]]:
    """Apply ``CONVENTIONS`` to fully matching candidates; return the survivors and the rules used."""
    used = []
    for rule in CONVENTIONS:
        full, why = _apply(rule, full)
        if why:
            used.append(why)
    unique: list = []
    # convention winners first, then a format's renaming before the raw dict it renamed (stable sort)
    full = sorted(full, key=lambda c: (not any(has(c, rule.winner) for rule in CONVENTIONS),
                                       RENAMING.fullmatch(c.where) is None))
    for c in full:
        twin = next((u for u in unique if same_weights(c, u)), None)
        if twin is None:
            unique.append(c)
        elif RENAMING.fullmatch(twin.where):  # said only where a renaming is involved; BYOL's twins share tensors
            used.append(_one_network(twin, c))
    return unique, used
