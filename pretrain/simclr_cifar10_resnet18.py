# SimCLR on CIFAR-10 as solo-learn runs it (scripts/pretrain/cifar/simclr.yaml): projection
# 2048 -> 256, NT-Xent temperature 0.2 over the global batch; LARS lr 0.4 x batch / 256, wd 1e-4,
# eta 0.02, clip_lr True, biases and BN excluded; 10 warm-up epochs then cosine. Views: solo-learn's
# augmentations/symmetric.yaml (Chen et al. 2020, App. A, jitter strength 1): crop (0.08, 1), jitter
# (0.8, 0.8, 0.8, 0.2) p=0.8, grey p=0.2, blur p=0.5 (sigma 0.1-2; here a 3-tap kernel at 32 px,
# where solo-learn blurs by PIL radius), flip p=0.5.
# Against lightly 1.6.0 (tests/test_lightly_oracle_*.py): the same step (NTXentLoss) and views
# (SimCLRTransform at its defaults); its cifar10_benchmark.py instead projects 512 -> 128 with an output
# BN (SimCLRProjectionHead), at temperature 0.5, with SGD and cj_strength=0.5 without blur.
_base_ = "_cifar10.py"
method = dict(type="simclr", arch="cifar_resnet18", hidden=2048, dim=256, temperature=0.2)
_view = dict(size=32, crop_scale=(0.08, 1.0), jitter=(0.8, 0.8, 0.8, 0.2), jitter_p=0.8, gray_p=0.2, blur_p=0.5)
views = [_view, _view]
optimizer = dict(type="LARS", base_lr=0.4, momentum=0.9, weight_decay=1e-4, eta=0.02, clip_lr=True)
