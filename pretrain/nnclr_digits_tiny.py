# NNCLR on digits (CPU smoke run): support set of 512 (about 40% of the 1,257 images), tau 0.2.
_base_ = "_digits.py"
method = dict(type="nnclr", arch="resnet_tiny", proj_dims=(256, 256, 64), pred_dims=(256, 64), queue_size=512,
              temperature=0.2)
optimizer = dict(type="LARS", base_lr=0.4, momentum=0.9, weight_decay=1e-5, eta=0.02)
warmup_epochs = 2
