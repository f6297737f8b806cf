"""The ViT-era probes side by side, timed (not a test): the GPU queue's ``vitprobes`` and ``segment`` items.

``--what probes``: kNN, the L-BFGS linear probe, MAE's linear protocol (``linear_bn``) and the
attentive probe (``attentive``) through ``evalsuite.evaluate`` on one dataset, each task's figure
and seconds, the token store the attentive probe used. ``--what where``: the synthetic "where is
the square" set of tests/test_attentive.py (a ViT-Tiny cut after its sin-cos position
embeddings): the attentive probe against the average-pooled linear probe. ``--what segment``: the
dense linear probe on a VOC2012-layout set written by tests/fixtures/segmentation.py (no VOC or
ADE20K on the device machine: the figure is the pipeline's speed and a sanity mIoU, not VOC's).

No checkpoint reaches the device machine, so the backbone is a random-init ``--arch``: the figures
time the protocols; their accuracies are random init's.

    python bench/vit_probes.py --what probes --dataset imagefolder:data/cifar10 --arch vit_small_patch16
    python bench/vit_probes.py --what segment --arch vit_small_patch16 --crop 224 --iters 2000
    python bench/vit_probes.py --what where --device cpu          # the CPU figure in bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import evalsuite  # noqa: E402


def _rows(df) -> list[dict]:
    return [{"task": r["task"], "metric": r["metric"], "value": round(float(r["value"]), 4),
             "task_s": r["timings"].get("task_s"), "chosen": r["chosen"],
             "tokens": (r["extra"] or {}).get("tokens")} for _, r in df.iterrows()]


def probes(args) -> dict:
    options = {"features.resize": args.resolution} if args.resolution else {}
    if args.smoke:
        options.update({"attentive.epochs": 2, "attentive.batch_size": 32, "linear_bn.epochs": 3,
                        "linear_bn.warmup_epochs": 1, "knn.ks": [10], "knn.headline_k": 10})
    start = time.perf_counter()
    df = evalsuite.evaluate("random", arch=args.arch, datasets=args.dataset, device=args.device, quiet=True,
                            suite="vit_probes", data_root=args.data_root, cfg_options=options,
                            cache_dir=args.cache)
    return {"rows": _rows(df), "wall_s": round(time.perf_counter() - start, 1)}


def where(args) -> dict:
    from test_attentive import embedding_only_vit, where_folder

    data = f"imagefolder:{where_folder(Path(args.cache) / 'where')}"
    start = time.perf_counter()
    df = evalsuite.evaluate(embedding_only_vit(), datasets=data, tasks=["linear", "attentive"], name="vit-embed",
                            device=args.device, quiet=True, cache_dir=args.cache,
                            cfg_options={"features.mode": "avgpool", "features.resize": "native",
                                         "attentive.batch_size": 8, "attentive.epochs": 12,
                                         "attentive.lrs": [1e-3, 3e-3], "attentive.wds": [1e-3]})
    return {"rows": _rows(df), "wall_s": round(time.perf_counter() - start, 1)}


def segment(args) -> dict:
    from fixtures.segmentation import write_voc_seg

    n_train, n_val, size = (8, 4, (48, 64)) if args.smoke else (400, 100, (240, 320))
    root = write_voc_seg(Path(args.cache) / "vocseg", n_train, n_val, size)
    crop = 32 if args.smoke else args.crop
    options = {"segmentation.crop_size": crop, "segmentation.stride": crop * 2 // 3,
               "segmentation.scale": [crop * 4, crop], "segmentation.iters": 4 if args.smoke else args.iters,
               "segmentation.warmup_iters": 2 if args.smoke else min(1500, args.iters // 10),
               "segmentation.batch_size": 2 if args.smoke else 16}
    start = time.perf_counter()
    df = evalsuite.evaluate("random", arch=args.arch, datasets=f"voc2012seg:{root}", tasks=["segmentation"],
                            device=args.device, quiet=True, cache_dir=args.cache, cfg_options=options)
    wall = time.perf_counter() - start
    iters = options["segmentation.iters"]
    return {"rows": _rows(df), "wall_s": round(wall, 1), "train_images": n_train, "test_images": n_val,
            "crop": crop, "iters": iters, "crops_per_s": round(iters * options["segmentation.batch_size"] / wall, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", choices=("probes", "where", "segment"), default="probes")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-root", default="data")
    ap.add_argument("--arch", default="vit_small_patch16")
    ap.add_argument("--resolution", type=int, default=0, help="features.resize (0: the suite's auto)")
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code path, measures nothing")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        args.cache = cache
        result = {"probes": probes, "where": where, "segment": segment}[args.what](args)
    result.update(what=args.what, arch=args.arch, dataset=args.dataset, device=args.device,
                  gpu=torch.cuda.get_device_name() if args.device.startswith("cuda") else None)
    print(json.dumps(result, indent=1, default=str))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
