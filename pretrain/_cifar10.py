# Shared settings of the *_cifar10_resnet18 recipes, as the two SSL libraries whose CIFAR-10
# figures these runs are compared with set them up:
# - lightly-ai/lightly, docs/source/getting_started/benchmarks/cifar10_benchmark.py: batch 512,
#   200 epochs (max_epochs = 200), and the kNN monitor on the test split with knn_k = 200,
#   knn_t = 0.1 (its published 200-epoch batch-512 table is the goal of bench/gpu_queue.py);
# - vturrisi/solo-learn, scripts/pretrain/cifar/*.yaml: per-method optimizer, lr (scaled by
#   batch / 256 in solo/args/pretrain.py, as this trainer does), weight decay, heads, and the
#   'warmup_cosine' schedule whose warm-up is 10 epochs (solo/methods/base.py default).
# CIFAR-10 train (50,000 images of 32 px) is held as one uint8 tensor on the GPU and augmented
# there; CIFAR-stem ResNet-18. Data: DATA_ROOT/cifar10/{train,test} (the shared JPEG copy unpacks
# to exactly that) or torchvision's python batches.
data = dict(dataset="cifar10", root="data", in_memory=True, knn_split="test", num_workers=16)
epochs = 200
batch_size = 512
seed = 0
warmup_epochs = 10
log_interval = 50
checkpoint_interval = 20
# The rolling latest.pth (whole training state, about 0.1-0.2 GB) at most every 30 s, not every
# 1-2 s epoch: a kill loses at most 30 s of training instead of one epoch.
latest_every_s = 30
# The fast step (evalsuite/pretrain/fast_step.py) captures augmentation, forward, backward and the
# update in one function; compiling it is off until bench/gpu_queue.py's 'speed' item has measured
# which mode pays back its compile time within 200 epochs (the old per-module compile did not:
# same 19-20k img/s on the H100 and about 3 min of compiling, bench/RESULTS.md).
compile = False
sync_bn = False
amp = True
monitor = dict(knn_interval=25, knn_k=200, knn_t=0.1)
