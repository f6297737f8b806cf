# SimSiam on digits (CPU demo). Heads scaled down to the 64-d tiny backbone: 2-layer projector
# (the CIFAR variant, Chen & He 2021, App. D), dim 256, predictor bottleneck dim / 4.
_base_ = "_digits.py"
method = dict(type="simsiam", arch="resnet_tiny", dim=256, proj_layers=2, pred_hidden=64, stop_gradient=True)
optimizer = dict(type="SGD", base_lr=0.05, momentum=0.9, weight_decay=5e-4)
