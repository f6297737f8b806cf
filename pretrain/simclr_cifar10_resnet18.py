# SimCLR on CIFAR-10 (Chen et al. 2020, App. B.9: jitter strength 0.5, no blur at 32 px). NT-Xent
# over the global batch, LARS with 10 warm-up epochs then cosine. CIFAR-scale values tuned by the
# SSL libraries for 32 px, taken as a starting point: base lr 0.4, wd 1e-5, eta 0.02, tau 0.2,
# projection 2048 -> 256.
_base_ = "_cifar10.py"
method = dict(type="simclr", arch="cifar_resnet18", hidden=2048, dim=256, temperature=0.2)
_view = dict(size=32, crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.4, 0.1), jitter_p=0.8, gray_p=0.2)
views = [_view, _view]
optimizer = dict(type="LARS", base_lr=0.4, momentum=0.9, weight_decay=1e-5, eta=0.02)
warmup_epochs = 10
