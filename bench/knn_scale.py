"""kNN at ImageNet scale: time and peak working memory of ``evalsuite.tasks.knn.knn_scores`` on
synthetic features, bank of 10k, 100k and 1,281,167 rows (ImageNet-1k train), D = 384 (ViT-S),
1,000 classes, k = 10, 20, 100, 200 from one search (not a test).

Each size runs in its own process: the bank is built, the kernel's resident high-water mark is
reset and the resident memory read as the baseline, the search runs, and the high-water mark
above that baseline is the search's working memory (VmHWM; on a GPU
``torch.cuda.max_memory_allocated`` above the bank). The blocked search should take time linear
in the bank and memory flat. ``--whole-bank`` also runs, up to 100k rows, the search as it was
before (every similarity of a query chunk against the whole bank, and an (N, C) one-hot bank),
and checks that both give identical predictions.

Usage (CPU):  python bench/knn_scale.py --out /tmp/knn_scale.json --whole-bank
GPU:          python bench/knn_scale.py --device cuda --queries 50000 --out result.json
Smoke:        python bench/knn_scale.py --sizes 2000,4000 --queries 64 --dim 16 --classes 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalsuite.tasks.knn import block_budget, block_rows, knn_scores  # noqa: E402

KS = (10, 20, 100, 200)  # DINO App. B / DINOv2 eval/knn.py
IMAGENET_TRAIN = 1_281_167
#: Beyond this the whole-bank search needs GBs (a 1,024-query chunk x N similarities, an N x C one-hot).
WHOLE_BANK_MAX = 100_000


def rss_bytes() -> int:
    """Resident memory now (Linux /proc/self/statm, pages)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> None:
    """Start the kernel's resident high-water mark (VmHWM) afresh, so the bank's construction is
    not counted (Linux >= 4.0: writing 5 to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_bytes() -> int:
    """Resident high-water mark since ``reset_peak`` (VmHWM of /proc/self/status, kB)."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


#: Noise around each class centre, per dimension: at D = 384 and 1,000 classes the kNN top-1 is
#: far from 0 and from 100%, so a wrong neighbour would change predictions.
NOISE = 5.0


def make_bank(n: int, dim: int, classes: int, device: torch.device, seed: int = 0):
    """Features in class clusters (so predictions mean something), written block by block."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g)  # (C, D)
    bank = torch.empty((n, dim), device=device)
    labels = torch.randint(0, classes, (n,), generator=g)
    for start in range(0, n, 65536):
        lab = labels[start:start + 65536]
        bank[start:start + len(lab)] = (centres[lab] + NOISE * torch.randn(len(lab), dim, generator=g)).to(device)
    return bank, labels.to(device), centres


def whole_bank_scores(bank, labels, queries, ks, temperature, classes, chunk=1024):
    """The search before blocks: a query chunk against every bank row at once, an (N, C) one-hot."""
    bank = F.normalize(bank.float(), dim=1)
    onehot = F.one_hot(labels, classes).float()  # (N, C)
    out = {k: [] for k in ks}
    for start in range(0, len(queries), chunk):
        q = F.normalize(queries[start:start + chunk].float(), dim=1)
        sims, idx = (q @ bank.T).topk(max(ks), dim=1)
        votes = onehot[idx] * (sims / temperature).exp().unsqueeze(-1)  # (c, kmax, C)
        for k in ks:
            out[k].append(votes[:, :k].sum(1))
    return {k: torch.cat(v) for k, v in out.items()}


def one_size(args) -> dict:
    device = torch.device(args.device)
    bank, labels, centres = make_bank(args.size, args.dim, args.classes, device)
    g = torch.Generator().manual_seed(1)
    qlab = torch.randint(0, args.classes, (args.queries,), generator=g)
    queries = (centres[qlab] + NOISE * torch.randn(args.queries, args.dim, generator=g)).to(device)
    fn = whole_bank_scores if args.impl == "whole" else knn_scores
    kwargs = {} if args.impl == "whole" else {"block_mb": args.block_mb}
    reset_peak()
    base = rss_bytes()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_gpu = torch.cuda.memory_allocated()
    start = time.perf_counter()
    scores = fn(bank, labels, queries, KS, 0.07, args.classes, **kwargs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    row = {"impl": args.impl, "bank": args.size, "queries": args.queries, "dim": args.dim, "seconds": round(seconds, 3),
           "rss_base_mb": round(base / 2**20), "working_mb": round((peak_bytes() - base) / 2**20, 1),
           "top1_k20": round(float((scores[20].argmax(1).cpu() == qlab).float().mean()), 4),
           "predictions": {str(k): s.argmax(1).cpu().tolist() for k, s in scores.items()} if args.keep else None}
    if args.impl == "blocked":
        chunk = min(1024, args.queries)
        row["block_rows"] = block_rows(block_budget(device, args.block_mb), chunk, args.dim)
    if device.type == "cuda":
        row["gpu_working_mb"] = round((torch.cuda.max_memory_allocated() - base_gpu) / 2**20, 1)
    return row


def child(size: int, impl: str, args, keep: bool) -> dict:
    cmd = [sys.executable, __file__, "--one", str(size), "--impl", impl, "--dim", str(args.dim), "--queries",
           str(args.queries), "--classes", str(args.classes), "--device", args.device, "--block-mb", str(args.block_mb),
           "--threads", str(args.threads)] + (["--keep"] if keep else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=f"10000,100000,{IMAGENET_TRAIN}")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--block-mb", type=int, default=0, help="knn.block_mb (0: automatic)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--whole-bank", action="store_true", help=f"also the whole-bank search, up to {WHOLE_BANK_MAX:,} rows")
    p.add_argument("--out", type=Path)
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process: one size
    p.add_argument("--impl", default="blocked", help=argparse.SUPPRESS)
    p.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.one:
        args.size = args.one
        print(json.dumps(one_size(args)))
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        check = args.whole_bank and size <= WHOLE_BANK_MAX
        blocked = child(size, "blocked", args, keep=check)
        found = [blocked]
        if check:
            whole = child(size, "whole", args, keep=True)
            blocked["same_predictions_as_whole_bank"] = blocked["predictions"] == whole["predictions"]
            found.append(whole)
        for row in found:
            row.pop("predictions")
            print(json.dumps(row), flush=True)
        rows += found
    result = {"device": args.device, "threads": args.threads, "ks": list(KS), "rows": rows,
              "torch": torch.__version__, "cpu_count": os.cpu_count()}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
