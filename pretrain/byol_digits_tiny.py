# BYOL on digits (CPU smoke run): heads scaled to the tiny backbone, LARS as in the paper.
_base_ = "_digits.py"
method = dict(type="byol", arch="resnet_tiny", hidden=256, dim=64, tau_base=0.99)
optimizer = dict(type="LARS", base_lr=1.0, momentum=0.9, weight_decay=1e-5, eta=0.02)
warmup_epochs = 2
