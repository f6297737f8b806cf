"""CPU race: lightly's CIFAR-10 benchmark loop against ``evalsuite pretrain``, same data, same epochs.

lightly side: lightly 1.6.0's modules set up as its docs/source/getting_started/benchmarks/
cifar10_benchmark.py sets each model up (lightly's ResNetGenerator('resnet-18') CIFAR stem, heads,
losses, per-method transforms without blur, SGD lr 6e-2 x batch / 128 (SimSiam unscaled), momentum
0.9, weight decay 5e-4, cosine annealing per epoch, BYOL's constant target momentum 0.99, NNCLR's
bank of 4,096), trained by a plain loop written here (the benchmark runs PyTorch Lightning) on
PIL images through a DataLoader. evalsuite side: ``run_pretrain`` of the method's CIFAR-10
recipe (its own heads, optimizer and batched augmentation; tests/test_lightly_oracle_pins.py
lists the differences) with the CIFAR-stem ``cifar_resnet18``. Both train on the same seeded
subset of the train split (the recipe's ``data.limit`` rule); afterwards both backbones are scored
by the same weighted kNN (k = 200 or the bank size, T = 0.1: evalsuite's ``knn_scores``, equal to
lightly's ``knn_predict``, tests/test_lightly_oracle_knn.py) with that subset as the bank and a
seeded part of the test split as queries. Seconds per epoch: evalsuite's monitor ``epoch_s``;
lightly's the wall time of its epoch loop, data loading included.

Full size (the defaults; ~10 min a side on an idle 2-core CPU per method and epoch):
    python bench/lightly_race.py --data-root data --methods simsiam byol simclr nnclr
Short (see bench/RESULTS.md for the sizes measured):
    python bench/lightly_race.py --data-root data --limit 256 --batch-size 64 --queries 256
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalsuite.datasets import build_dataset  # noqa: E402
from evalsuite.pretrain.augment import normalize  # noqa: E402
from evalsuite.pretrain.data import decode_split  # noqa: E402
from evalsuite.pretrain.trainer import build_runner, load_recipe, train  # noqa: E402
from evalsuite.tasks.knn import knn_scores  # noqa: E402

METHODS = ("simsiam", "byol", "simclr", "nnclr")
K, T = 200, 0.1


def lightly_model(method: str):
    """(model, step(x0, x1) -> loss, lr, transform) of cifar10_benchmark.py's ``<Method>Model``."""
    from lightly.loss import NegativeCosineSimilarity, NTXentLoss
    from lightly.models import ResNetGenerator
    from lightly.models.modules import heads
    from lightly.models.modules.nn_memory_bank import NNMemoryBankModule
    from lightly.models.utils import deactivate_requires_grad, update_momentum
    from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform, SimCLRTransform, SimSiamTransform

    resnet = ResNetGenerator("resnet-18")
    m = nn.Module()
    m.backbone = nn.Sequential(*list(resnet.children())[:-1], nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    simclr_views = SimCLRTransform(input_size=32, cj_strength=0.5, gaussian_blur=0.0)
    if method == "simsiam":
        m.projection_head = heads.ProjectionHead([(512, 2048, nn.BatchNorm1d(2048), nn.ReLU(inplace=True)),
                                                  (2048, 2048, nn.BatchNorm1d(2048), None)])
        m.prediction_head = heads.SimSiamPredictionHead(2048, 512, 2048)
        crit = NegativeCosineSimilarity()

        def step(x0, x1):
            z0, z1 = m.projection_head(m.backbone(x0)), m.projection_head(m.backbone(x1))
            p0, p1 = m.prediction_head(z0), m.prediction_head(z1)
            return 0.5 * (crit(z0.detach(), p1) + crit(z1.detach(), p0))
        return m, step, 6e-2, SimSiamTransform(input_size=32, gaussian_blur=0.0), False
    if method == "byol":
        m.projection_head, m.prediction_head = heads.BYOLProjectionHead(512, 1024, 256), heads.BYOLPredictionHead(256, 1024, 256)
        m.backbone_momentum, m.projection_head_momentum = copy.deepcopy(m.backbone), copy.deepcopy(m.projection_head)
        deactivate_requires_grad(m.backbone_momentum)
        deactivate_requires_grad(m.projection_head_momentum)
        crit = NegativeCosineSimilarity()

        def step(x0, x1):
            update_momentum(m.backbone, m.backbone_momentum, m=0.99)
            update_momentum(m.projection_head, m.projection_head_momentum, m=0.99)
            p0, p1 = (m.prediction_head(m.projection_head(m.backbone(x))) for x in (x0, x1))
            with torch.no_grad():
                z0, z1 = (m.projection_head_momentum(m.backbone_momentum(x)) for x in (x0, x1))
            return 0.5 * (crit(p0, z1) + crit(p1, z0))
        views = BYOLTransform(view_1_transform=BYOLView1Transform(input_size=32, gaussian_blur=0.0),
                              view_2_transform=BYOLView2Transform(input_size=32, gaussian_blur=0.0))
        return m, step, 6e-2, views, True
    if method == "simclr":
        m.projection_head = heads.SimCLRProjectionHead(512, 512, 128)
        crit = NTXentLoss()
        return m, lambda x0, x1: crit(m.projection_head(m.backbone(x0)), m.projection_head(m.backbone(x1))), 6e-2, \
            simclr_views, True
    m.projection_head = heads.ProjectionHead([(512, 2048, nn.BatchNorm1d(2048), nn.ReLU(inplace=True)),
                                              (2048, 256, nn.BatchNorm1d(256), None)])
    m.prediction_head = heads.NNCLRPredictionHead(256, 4096, 256)
    m.memory_bank = NNMemoryBankModule(size=(4096, 256))
    crit = NTXentLoss()

    def step(x0, x1):
        z0, z1 = m.projection_head(m.backbone(x0)), m.projection_head(m.backbone(x1))
        p0, p1 = m.prediction_head(z0), m.prediction_head(z1)
        n0, n1 = m.memory_bank(z0.detach(), update=False), m.memory_bank(z1.detach(), update=True)
        return 0.5 * (crit(n0, p1) + crit(n1, p0))
    return m, step, 6e-2, simclr_views, True


class Views(torch.utils.data.Dataset):
    def __init__(self, samples: list[tuple[str, int]], transform) -> None:
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        with Image.open(self.samples[i][0]) as img:
            return self.transform(img.convert("RGB"))


def run_lightly(method: str, samples, args) -> tuple[nn.Module, list[float]]:
    torch.manual_seed(args.seed)
    model, step, lr, transform, scaled = lightly_model(method)
    lr = lr * args.batch_size / 128 if scaled else lr
    params = [p for n, p in model.named_parameters() if "momentum" not in n]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    loader = torch.utils.data.DataLoader(Views(samples, transform), batch_size=args.batch_size, shuffle=True,
                                         drop_last=True, num_workers=args.workers, persistent_workers=args.workers > 0)
    model.train()
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        for x0, x1 in loader:
            loss = step(x0, x1)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        seconds.append(round(time.perf_counter() - start, 2))
    return model.backbone, seconds


def run_evalsuite(method: str, args, work_dir: Path) -> tuple[nn.Module, list[float]]:
    options = {"data.root": args.data_root, "data.limit": args.limit, "data.num_workers": args.workers,
               "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
               "monitor.knn_interval": 0, "checkpoint_interval": args.epochs, "log_interval": 10 ** 6}
    cfg = load_recipe(f"{method}_cifar10_resnet18", options)
    runner, hook = build_runner(cfg, str(work_dir / method), device="cpu")
    train(runner)
    return runner.model.backbone, [r["epoch_s"] for r in hook.history]


@torch.no_grad()
def features(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, 3, 32, 32) uint8 -> (N, D): eval mode, ImageNet normalisation (both sides' test transform)."""
    backbone.eval()
    return torch.cat([backbone(normalize(images[i:i + 256].float() / 255).contiguous()).flatten(1)
                      for i in range(0, len(images), 256)])


def knn_top1(backbone, bank, query) -> float:
    k = min(K, len(bank[0]))
    scores = knn_scores(features(backbone, bank[0]), bank[1], features(backbone, query[0]), (k,), T, 10)[k]
    return round((scores.argmax(1) == query[1]).float().mean().item(), 4)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="data", help="holds cifar10/{train,test}/<class>/*")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--limit", type=int, default=5000, help="training images (seeded subset)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000, help="test images scored by kNN")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader / decode processes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", default="work_dirs/lightly_race")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = build_dataset("cifar10", args.data_root, False)
    keep = torch.randperm(len(spec.splits["train"]), generator=torch.Generator().manual_seed(args.seed))[:args.limit]
    train_x, train_y = decode_split(spec, "train", 32, args.workers)
    test_x, test_y = decode_split(spec, "test", 32, args.workers)
    query = torch.randperm(len(test_y), generator=torch.Generator().manual_seed(args.seed + 1))[:args.queries]
    bank, query = (train_x[keep], train_y[keep]), (test_x[query], test_y[query])
    samples = [spec.splits["train"].samples[i] for i in keep.tolist()]
    rows = []
    for method in args.methods:
        row = {"method": method, "images": args.limit, "epochs": args.epochs, "batch_size": args.batch_size}
        for side, run in (("lightly", lambda: run_lightly(method, samples, args)),
                          ("evalsuite", lambda: run_evalsuite(method, args, Path(args.work_dir)))):
            backbone, seconds = run()
            row[f"{side}_epoch_s"], row[f"{side}_knn"] = seconds, knn_top1(backbone, bank, query)
        row["epoch_s_ratio"] = round(sum(row["lightly_epoch_s"]) / sum(row["evalsuite_epoch_s"]), 2)
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {"args": vars(args), "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
