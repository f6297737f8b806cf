"""evalsuite baselines: torchvision's supervised ImageNet ResNets as checkpoints to evaluate."""

from __future__ import annotations

import argparse

NAME = "baselines"
HELP = "register torchvision's supervised ImageNet ResNet-18/50 weights (sha256-checked) as baseline checkpoints"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", help="baselines to register (default: all; see --list)")
    p.add_argument("--list", action="store_true", help="list the known baselines and their torchvision files")
    p.add_argument("--download", action="store_true", help="download missing weight files from torchvision's URLs")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--from", dest="source", metavar="FILE", help="read one weight file from here")
    source.add_argument("--hub-dir", metavar="DIR", help="folder holding torchvision's files (default $TORCH_HOME/hub/checkpoints)")
    p.add_argument("-o", "--output", default="work_dirs/baselines", help="where to write the checkpoints (default work_dirs/baselines)")


def run(args: argparse.Namespace) -> int:
    from evalsuite.baselines import BASELINES, register

    if args.list:
        for b in BASELINES.values():
            print(f"{b.name}\t{b.arch}\t{b.weights}\t{b.file}\tpublished ImageNet top-1 {b.imagenet_top1}")
        return 0
    written = register(args.names, args.output, args.source, args.hub_dir, args.download)
    for path in written:
        print(f"wrote {path}; evaluate it like any checkpoint: evalsuite eval {path}")
    return 0
