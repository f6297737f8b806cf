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
    p.add_argument("--trust-checkpoint", action="store_true", help="allow arbitrary unpickling of the checkpoint")


def run(args: argparse.Namespace) -> int:
    import os
    import pickle
    import tempfile
    from pathlib import Path

    from evalsuite.checkpoint import load_backbone
    from evalsuite.checkpoint.formats.detectron2 import to_detectron2
    from evalsuite.errors import one_of

    if args.to not in TARGETS:
        raise one_of("conversion target", args.to, TARGETS)
    model, info = load_backbone(args.checkpoint, args.arch, args.trust_checkpoint)
    weights = {k: v.detach().cpu().numpy() for k, v in to_detectron2(model.state_dict()).items()}
    obj = {"model": weights, "__author__": "evalsuite", "matching_heuristics": True,
           "evalsuite": {"source": info.path, "sha256": info.sha256, "format": info.format, "arch": info.arch}}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {len(weights)} tensors ({info.arch}, detectron2 naming) to {out}")
    return 0
