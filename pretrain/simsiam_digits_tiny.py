# SimSiam on digits (CPU demo). Heads scaled down to the 64-d tiny backbone: 2-layer projector
# (the CIFAR variant, Chen & He 2021, App. D), dim 256, predictor bottleneck dim / 4.
# zero_init_residual stays off here, unlike the CIFAR and ImageNet SimSiam recipes (official
# simsiam/builder.py): on this one-block-per-stage toy net it cost the demo 12 points of kNN and
# 9 of the linear probe (CPU, 2026-11-30, `python -m evalsuite.demo`: 95.4 / 96.7 off, 83.0 / 88.0 on).
_base_ = "_digits.py"
method = dict(type="simsiam", arch="resnet_tiny", dim=256, proj_layers=2, pred_hidden=64, stop_gradient=True)
# lr = 0.2 x 64 / 256 = 0.05: the paper's ImageNet value (Sec. 4), not 0.05 x batch / 256, which
# left the loss near 0 after 10 epochs here; measured on CPU (2026-11-22): online kNN (k=20, T=0.07) 0.91 at
# epoch 10 against 0.75 for random init.
optimizer = dict(type="SGD", base_lr=0.2, momentum=0.9, weight_decay=5e-4)
