# SimCLR on ImageNet (Chen et al. 2020, Sec. 2 and App. B): batch 4096, LARS lr = 0.3 x batch / 256,
# wd 1e-6, 10 warm-up epochs then cosine, temperature 0.1, projection 2048 -> 128; crop (0.08, 1),
# jitter strength 1.0 -> (0.8, 0.8, 0.8, 0.2) p=0.8, grey p=0.2, blur p=0.5; 100 epochs (1000 for the best).
_base_ = "_imagenet.py"
method = dict(type="simclr", arch="resnet50", hidden=2048, dim=128, temperature=0.1)
_view = dict(size=224, crop_scale=(0.08, 1.0), jitter=(0.8, 0.8, 0.8, 0.2), jitter_p=0.8, gray_p=0.2, blur_p=0.5)
views = [_view, _view]
epochs = 100
batch_size = 4096
warmup_epochs = 10
optimizer = dict(type="LARS", base_lr=0.3, momentum=0.9, weight_decay=1e-6, eta=0.001)
