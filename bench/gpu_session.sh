#!/usr/bin/env bash
# The GPU figures of bench/RESULTS.md in one device call (10-minute limit), each step time-boxed.
# Run from the repo root with the shared tarballs in .gpudata/ and the Python wheels the GPU
# machine lacks (mmengine, detectron2 pure-Python build and friends) installed on PYTHONPATH.
set -u
export PYTHONUNBUFFERED=1 EVALSUITE_CACHE=/tmp/cache
OUT=${OUT:-/tmp/evalsuite-gpu}
mkdir -p "$OUT" data/cifar10 && tar -xzf .gpudata/cifar10-jpeg.tar.gz -C data/cifar10
source "$(dirname "$0")/gpu_step.sh"
EPOCHS=${EPOCHS:-25}
step eval_speed 80 python3 bench/eval_speed.py --dataset cifar10 --data-root data --arch cifar_resnet18 \
  --skip-sklearn --save-features /tmp/features.pt --out "$OUT/eval_speed.json"
# scikit-learn's sweep on the same features runs on 6 CPU cores while the GPU trains
(OMP_NUM_THREADS=6 OPENBLAS_NUM_THREADS=6 python3 bench/eval_speed.py --sklearn-from /tmp/features.pt > "$OUT/sklearn.json" 2>&1 &)
step pretrain_simsiam 170 python3 -m evalsuite pretrain simsiam_cifar10_resnet18 --work-dir /tmp/wd/simsiam \
  --cfg-options data.root=data epochs=$EPOCHS monitor.knn_interval=$EPOCHS compile=False
cp /tmp/wd/simsiam/metrics.jsonl "$OUT/pretrain_simsiam_metrics.jsonl" 2>/dev/null
CKPT=/tmp/wd/simsiam/backbone.pth
step eval_simsiam 40 python3 -m evalsuite eval $CKPT --suite tasks/cifar10_knn200.py --data-root data \
  --results "$OUT/runs" --name simsiam-cifar10-${EPOCHS}ep --quiet
step finetune 120 python3 bench/finetune_cifar.py --device cuda --checkpoint $CKPT --arch cifar_resnet18 \
  --steps 1000 --lrs 0.1 --wds 1e-4 --workers 12 --archive .gpudata/cifar10-jpeg.tar.gz --results "$OUT/finetune"
step detection_r18 120 python3 bench/detection_bccd.py --device cuda --archs resnet18 --tar .gpudata/bccd-voc.tar.gz \
  --data /tmp/bccd --results "$OUT/det" --cfg-options detection.max_iter=300 "detection.steps=[225,275]" detection.warmup_iters=50
cat "$OUT/sklearn.json"
