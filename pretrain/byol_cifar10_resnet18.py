# BYOL on CIFAR-10. Heads as the paper (Grill et al. 2020, Sec. 3.3: MLP 4096 -> 256); BYOL's
# asymmetric views (Table 6) without blur at 32 px: solarize p = 0 / 0.2. LARS with 10 warm-up
# epochs and cosine decay (App. C). CIFAR-scale values not in the paper, tuned by the SSL
# libraries for 32 px and taken as a starting point: base lr 1.0, wd 1e-5, LARS eta 0.02, tau 0.99.
_base_ = "_cifar10.py"
method = dict(type="byol", arch="cifar_resnet18", hidden=4096, dim=256, tau_base=0.99)
_view = dict(size=32, crop_scale=(0.08, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=0.8, gray_p=0.2)
views = [dict(_view, solarize_p=0.0), dict(_view, solarize_p=0.2)]
optimizer = dict(type="LARS", base_lr=1.0, momentum=0.9, weight_decay=1e-5, eta=0.02)
warmup_epochs = 10
