# BYOL on ImageNet (Grill et al. 2020, Sec. 3.3 and App. C): batch 4096, LARS lr = 0.2 x batch / 256,
# wd 1.5e-6 (biases and BN excluded), 10 warm-up epochs then cosine, tau_base 0.996, 1000 epochs
# (300 in the ablations); heads 4096 -> 256; views: blur p=1.0 / 0.1, solarize p=0 / 0.2 (Table 6).
_base_ = "_imagenet.py"
method = dict(type="byol", arch="resnet50", hidden=4096, dim=256, tau_base=0.996)
_view = dict(size=224, crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8, gray_p=0.2)
views = [dict(_view, blur_p=1.0, solarize_p=0.0), dict(_view, blur_p=0.1, solarize_p=0.2)]
epochs = 1000
batch_size = 4096
warmup_epochs = 10
optimizer = dict(type="LARS", base_lr=0.2, momentum=0.9, weight_decay=1.5e-6, eta=0.001)
