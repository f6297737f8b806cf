#!/usr/bin/env bash
# Issue 3's GPU figures that fit one device call (10 minutes): pretrain_speed for the four methods
# (with a profiler table each) and the 20-epoch SimSiam collapse ablation. The 200-epoch runs take
# one call per method:  python3 bench/pretrain_methods.py --methods simsiam --no-ablation --results $OUT/simsiam
# Run from the repo root with .gpudata/cifar10-jpeg.tar.gz and the wheels on PYTHONPATH (see
# bench/gpu_session.sh). Offline smoke run on CPU: DEVICE=cpu SUFFIX=digits_tiny PY=.venv/bin/python bash bench/gpu_pretrain.sh
set -u
export PYTHONUNBUFFERED=1 EVALSUITE_CACHE=${EVALSUITE_CACHE:-/tmp/cache}
OUT=${OUT:-/tmp/evalsuite-gpu}
DEVICE=${DEVICE:-cuda}
SUFFIX=${SUFFIX:-cifar10_resnet18}
PY=${PY:-python3}
mkdir -p "$OUT"
if [ "$SUFFIX" = cifar10_resnet18 ] && [ ! -d data/cifar10/train ]; then
  mkdir -p data/cifar10 && tar -xzf .gpudata/cifar10-jpeg.tar.gz -C data/cifar10
fi
source "$(dirname "$0")/gpu_step.sh"
step pretrain_speed 240 "$PY" bench/pretrain_speed.py --device "$DEVICE" --recipe-suffix "$SUFFIX" --epochs 3 --steps 50 \
  --out "$OUT/pretrain_speed.json" --profile "$OUT/profile"
step collapse_ablation 300 "$PY" bench/pretrain_methods.py --suffix "$SUFFIX" --device "$DEVICE" --methods none \
  --ablation-epochs 20 --results "$OUT/ablation"
