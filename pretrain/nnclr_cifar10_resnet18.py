# NNCLR on CIFAR-10 as solo-learn runs it (scripts/pretrain/cifar/nnclr.yaml): projector
# [2048, 2048, 256] with BN on every layer, predictor [256, 4096, 256] (Dwibedi et al. 2021,
# Sec. 4.1), support set (queue) 65,536, temperature 0.2; LARS lr 0.4 x batch / 256, wd 1e-5,
# eta 0.02, clip_lr True, biases and BN excluded; 10 warm-up epochs then cosine. Views: BYOL's
# (solo-learn's augmentations/asymmetric.yaml): crop (0.08, 1), jitter (0.4, 0.4, 0.2, 0.1) p=0.8,
# grey p=0.2, no blur, solarize p = 0 / 0.2. (lightly's cifar10_benchmark.py uses a queue of
# 8,192 at batch 512 with SGD; its figure is the goal, solo-learn's settings the recipe.)
# Against lightly 1.6.0 (tests/test_lightly_oracle_*.py): the same heads and NNMemoryBankModule look-up;
# the loss is Eq. 2 of the paper as solo-learn computes it (nn against the other view's predictions),
# where the benchmark uses the symmetric NTXentLoss, enqueues the other view and SimCLR's views.
_base_ = "_cifar10.py"
method = dict(type="nnclr", arch="cifar_resnet18", proj_dims=(2048, 2048, 256), pred_dims=(4096, 256),
              queue_size=65536, temperature=0.2)
_view = dict(size=32, crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8, gray_p=0.2)
views = [dict(_view, solarize_p=0.0), dict(_view, solarize_p=0.2)]
optimizer = dict(type="LARS", base_lr=0.4, momentum=0.9, weight_decay=1e-5, eta=0.02, clip_lr=True)
