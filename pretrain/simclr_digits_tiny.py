# SimCLR on digits (CPU smoke run): projection 256 -> 64, NT-Xent tau 0.2, LARS.
_base_ = "_digits.py"
method = dict(type="simclr", arch="resnet_tiny", hidden=256, dim=64, temperature=0.2)
optimizer = dict(type="LARS", base_lr=0.4, momentum=0.9, weight_decay=1e-5, eta=0.02)
warmup_epochs = 2
