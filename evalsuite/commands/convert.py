"""evalsuite convert CKPT --to detectron2 -o OUT.pkl: any loadable backbone in detectron2's naming.

The output is the ``.pkl`` layout of MoCo's ``convert-pretrain-to-detectron2.py`` (numpy arrays
under ``model``, ``matching_heuristics`` on), so detectron2's own ``train_net.py`` can start
from it with ``MODEL.WEIGHTS OUT.pkl``; ``evalsuite eval OUT.pkl`` reads it back.
"""

from __future__ import annotations

import argparse

NAME = "convert"
HELP = "write a checkpoint's backbone in another framework's layout (detectron2 .pkl)"
TARGETS = ("detectron2",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint file, or 'random' with --arch")
    p.add_argument("--to", required=True, help=f"target layout: {', '.join(TARGETS)}")
    p.add_argument("-o", "--output", required=True, help="output file, e.g. backbone.pkl")
    p.add_argument("--arch", help="arch when it cannot be inferred (evalsuite list archs)")
    p.add_argument("--key", help="dotted location of the backbone in the file, e.g. student (see evalsuite inspect)")
    p.add_argument("--trust-checkpoint", action="store_true", help="allow arbitrary unpickling of the checkpoint")


def run(args: argparse.Namespace) -> int:
    import pickle
    from pathlib import Path

    from evalsuite.atomic import atomic_path
    from evalsuite.checkpoint import load_backbone
    from evalsuite.checkpoint.formats.detectron2 import to_detectron2
    from evalsuite.errors import one_of

    if args.to not in TARGETS:
        raise one_of("conversion target", args.to, TARGETS)
    model, info = load_backbone(args.checkpoint, args.arch, args.trust_checkpoint, key=args.key)
    weights = {k: v.detach().cpu().numpy() for k, v in to_detectron2(model.state_dict()).items()}
    obj = {"model": weights, "__author__": "evalsuite", "matching_heuristics": True,
           "evalsuite": {"source": info.path, "sha256": info.sha256, "format": info.format, "arch": info.arch}}
    out = Path(args.output)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f)
    print(f"wrote {len(weights)} tensors ({info.arch}, detectron2 naming) to {out}")
    return 0
